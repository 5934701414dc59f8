-- Deactivating an account now deletes its personal API tokens. Before, they were only refused
-- while the account was inactive and worked again after a reactivation: delete those that
-- inactive accounts still hold, so that no reactivation revives them.
DELETE FROM api_tokens WHERE user_id IN (SELECT id FROM users WHERE NOT active);
