"""The web stack: the app factory, login, security headers and the API blueprints."""
