"""Which waiting job runs next: queues per provider and target, admission to slots, usage and quotas."""
