-- Prompt tokens the engine computed for a reply; prompt_tokens minus this came from the KV cache
-- of the (conversation, component). Null for user messages and for rows written before.
ALTER TABLE messages ADD COLUMN prefill_tokens INTEGER;
