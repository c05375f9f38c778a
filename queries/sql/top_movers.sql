-- Top movers: between the last two closed periods of each policy, the nodes whose statement
-- amount changed most (largest absolute change first; ties by policy and node).
WITH ranked AS (
    SELECT policy, period, node, amount,
           dense_rank() OVER (PARTITION BY policy ORDER BY period DESC) AS age
    FROM statements
    WHERE node IS NOT NULL
),
latest AS (SELECT * FROM ranked WHERE age = 1),
previous AS (SELECT * FROM ranked WHERE age = 2)
SELECT latest.policy, latest.node,
       previous.period AS from_period, latest.period AS to_period,
       previous.amount AS before, latest.amount AS after,
       latest.amount - previous.amount AS change
FROM latest
JOIN previous ON latest.policy = previous.policy AND latest.node = previous.node
ORDER BY abs(latest.amount - previous.amount) DESC, latest.policy, latest.node
LIMIT 10
