-- Nodes near an sla penalty threshold (the defaults: a level per 3 breaching checks in the
-- lookback, severe after 24 in a row): one breach from the next penalty level, or within 4 of
-- severe. What an operator should look at before the next hourly check.
SELECT node, level, breaches_lookback, consecutive_breaches,
       CASE
           WHEN consecutive_breaches >= 20
               THEN 'severe after ' || CAST(24 - consecutive_breaches AS VARCHAR) || ' more breaching checks in a row'
           ELSE 'next penalty level at the next breaching check'
       END AS next_step
FROM sla_levels
WHERE level <> 'severe'
  AND (consecutive_breaches >= 20 OR breaches_lookback % 3 = 2)
ORDER BY consecutive_breaches DESC, node
