// The HTTP layer's surface: the admin API and /metrics server the broker starts when http.listener
// is set, and the Prometheus text formatting it uses.
export { startHttpServer, httpStatusOf, HTTP_BODY_BYTES_MAX } from './server.ts';
export type { HttpServerHandle, HttpServerOptions } from './server.ts';
export { formatPrometheus, escapeLabelValue, processMetrics, PROMETHEUS_CONTENT_TYPE } from './metrics.ts';
export type { MetricSample } from './metrics.ts';
