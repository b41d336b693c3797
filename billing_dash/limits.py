"""The lengths of stored text, declared once: the schema, the input checks, the login form and the OpenAPI document."""

# In characters. Frozen migrations keep their own copies of the numbers they created columns with.
MAX_ID = 200  # ids of events, agents and conversations, and model names
MAX_NAME = 500  # an agent's name
MAX_TITLE = 1000  # a conversation's title
MAX_ORG_NAME = 200
MAX_EMAIL = 320  # the longest address RFC 3696 allows: 64 + "@" + 255
MAX_PASSWORD = 1000  # what the login form accepts (stored hashed, at any length)
MAX_TOKEN_NAME = 100  # an API token's name
