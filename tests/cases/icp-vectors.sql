SELECT node, subnet, failure_rate, subnet_failure_rate, relative_failure_rate, reduction, multiplier, base_xdr_permyriad, adjusted_xdr_permyriad FROM icp_node_daily ORDER BY node
