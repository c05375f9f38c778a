-- End-of-period payout per policy: every stored (final) statement row, provider totals first.
-- Payout jobs pay `amount`: icp in XDR permyriad, sla the reward factor, swap the served price.
SELECT policy, period, provider, node, amount
FROM statements
ORDER BY policy, period, provider, node NULLS FIRST
