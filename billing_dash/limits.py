"""Limits declared once: lengths of stored text and the most an event may cost (schema, input checks, re-pricing, OpenAPI)."""

from decimal import Decimal

# In characters. Frozen migrations keep their own copies of the numbers they created columns with.
MAX_ID = 200  # ids of events, agents and conversations, and model names
MAX_NAME = 500  # an agent's name
MAX_TITLE = 1000  # a conversation's title
MAX_ORG_NAME = 200
MAX_EMAIL = 320  # the longest address RFC 3696 allows: 64 + "@" + 255
MAX_PASSWORD = 1000  # what the login form accepts (stored hashed, at any length)
MAX_TOKEN_NAME = 100  # an API token's name

# The most one event may cost, whether given, computed at ingest or re-priced (see README, "Limits").
MAX_COST = Decimal(10) ** 6

# Report filters (agentId, model): values per parameter, each at most MAX_ID characters.
MAX_FILTER_VALUES = 20
# granularity=hour: the longest period, in days, that may be asked for by the hour (168 buckets).
MAX_HOUR_DAYS = 7
# Request bodies larger than this are refused (413) before parsing: the usage API's JSON (a full
# 10,000-event batch is ~3 MB) and OTLP exports, whose gzip bodies may inflate to this much at most.
MAX_BODY_BYTES = 32 * 1024 * 1024

# Event tags (README, "Tags"): at most MAX_TAGS pairs per event, keys matching TAG_KEY_PATTERN,
# values of 1 to MAX_TAG_VALUE characters.
MAX_TAGS = 10
MAX_TAG_KEY = 40
TAG_KEY_PATTERN = rf"[a-z0-9_.-]{{1,{MAX_TAG_KEY}}}"
MAX_TAG_VALUE = 200
# Pre-aggregated tag keys (`billing-dash tags set`): at most this many per organization, and at
# most MAX_TAG_VALUES distinct values of each; an import or `tags set` that would pass it is refused.
MAX_TAG_KEYS = 5
MAX_TAG_VALUES = 1000
# groupBy=tag:<key>: the top values by cost listed in usageByTag (the rest sum into one "other" row).
DEFAULT_TAG_GROUPS = 10
MAX_TAG_GROUPS = 100
