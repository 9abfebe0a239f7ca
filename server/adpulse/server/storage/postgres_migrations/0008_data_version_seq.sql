-- Data versions are drawn from one sequence, so a tenant's version never repeats, not even
-- after its data (and its tenant_data_versions row) is deleted: a result cached under an old
-- version can never be taken for the answer at a new one.
CREATE SEQUENCE IF NOT EXISTS data_version_seq;
