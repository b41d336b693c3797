"""billing-dash: token usage and cost analytics for teams running AI agents."""
