-- The organization's longest conversation, first to last message, in seconds.
-- param org_id: int
SELECT o.max_conversation_seconds FROM organizations o WHERE o.id = :org_id
