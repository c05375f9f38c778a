-- Providers' reward loss by cause over the closed icp days: what the block-maker failure-rate
-- reduction took (base minus adjusted reward, XDR permyriad), over how many reduced node-days.
SELECT provider,
       'block-maker failures (icp reduction)' AS cause,
       sum(base_xdr_permyriad - adjusted_xdr_permyriad) AS lost_xdr_permyriad,
       sum(CASE WHEN reduction > 0 THEN 1 ELSE 0 END) AS reduced_node_days,
       count(*) AS node_days
FROM icp_node_daily
GROUP BY provider
ORDER BY lost_xdr_permyriad DESC, provider
