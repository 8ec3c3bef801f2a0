-- Setting or deleting a stored secret bumps this change sequence, so that
-- every node (told by the store's change feed) compiles its policy again
-- and resolves secret names to the new values without a reload.
INSERT INTO change_sequences (kind, value) VALUES ('secrets', 0);
