-- No query reads messages by (experiment, created_at): the report joins assignments to messages by
-- user, the export reads by time alone (messages_by_time). The index cost one random-order B-tree
-- insert per message, the most expensive part of a bulk load.
DROP INDEX IF EXISTS messages_by_experiment_time;
