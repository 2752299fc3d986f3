export { startEtcd, EtcdServer } from './start-etcd.js';
export { startEtcdCluster, EtcdCluster } from './start-etcd-cluster.js';
export { EtcdMember } from './etcd-member.js';
export { startFaultProxy, FaultProxy } from './fault-proxy.js';
export { findEtcdBinary } from './find-etcd-binary.js';
export { parsePrometheusText, sumMetric } from './prometheus-text.js';

export type { EtcdServerOptions, EtcdClusterOptions, EtcdServerTlsOptions } from './etcd-launcher.js';
export type { RestartOptions } from './etcd-member.js';
export type { NewMemberOptions } from './start-etcd-cluster.js';
export type { EtcdStatus } from './member-status.js';
export type { FaultProxyOptions, FaultProxyMode, FaultProxyStats } from './fault-proxy.js';
