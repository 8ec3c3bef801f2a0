// Package tracing exports OpenTelemetry spans of the requests the gateway
// serves: a server span per request, child of the caller's W3C traceparent
// when it sent one, and a client span around the upstream call whose
// traceparent the upstream receives. It is off unless the standard
// OpenTelemetry environment asks for it (FromEnv), and then costs the
// request path two spans; off, it costs nothing and the caller's
// traceparent and tracestate reach the upstream unchanged.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracer starts the spans of requests. A nil *Tracer is tracing off.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
}

// Enabled reports whether the environment asks for traces: an OTLP
// endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER is "otlp",
// and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none says
// otherwise.
func Enabled() bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch exporter := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))); exporter {
	case "none":
		return false
	case "otlp":
		return true
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// FromEnv returns a Tracer configured by the standard OpenTelemetry
// environment (endpoint, headers, timeout, compression, sampler, batch
// settings, resource attributes), exporting OTLP over HTTP/protobuf, or nil
// when Enabled is false. version is the gateway's, for the resource.
func FromEnv(ctx context.Context, version string) (*Tracer, error) {
	if !Enabled() {
		return nil, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := os.Getenv(name); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("tracing: %s=%s: only http/protobuf is supported (the collector's OTLP/HTTP port, usually 4318)", name, p)
			}
			break
		}
	}
	if e := os.Getenv("OTEL_TRACES_EXPORTER"); e != "" && !strings.EqualFold(e, "otlp") && !strings.EqualFold(e, "none") {
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%s: only otlp (or none) is supported", e)
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	// Our name and version first: OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES, read after, win.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("portcullis"), semconv.ServiceVersion(version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	// The batcher never blocks a request: when the collector falls behind,
	// its queue (OTEL_BSP_MAX_QUEUE_SIZE) drops spans. The sampler is
	// OTEL_TRACES_SAMPLER's, by default parent-based always-on.
	return New(sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))), nil
}

// New returns a Tracer on provider (tests give one with an in-memory
// exporter).
func New(provider *sdktrace.TracerProvider) *Tracer {
	return &Tracer{provider: provider, tracer: provider.Tracer("github.com/portcullis/portcullis")}
}

// Shutdown exports the spans still queued and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Request is the server span of one request.
type Request struct {
	ctx    context.Context
	span   trace.Span
	t      *Tracer
	method string // the span name's method: a known one, or "HTTP"
}

// StartRequest starts the server span of r, which arrived at start, as a
// child of the traceparent r carries (a new trace when it carries none or
// an invalid one).
func (t *Tracer) StartRequest(r *http.Request, start time.Time) *Request {
	// Span names and the method attribute keep to the known methods, as
	// OpenTelemetry's conventions ask: a client's made-up methods must not
	// make names without bound.
	method, attr := "HTTP", semconv.HTTPRequestMethodOther
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		method, attr = r.Method, semconv.HTTPRequestMethodKey.String(r.Method)
	}
	ctx := t.prop.Extract(context.Background(), propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(attr))
	if attr == semconv.HTTPRequestMethodOther {
		span.SetAttributes(semconv.HTTPRequestMethodOriginal(r.Method))
	}
	return &Request{ctx: ctx, span: span, t: t, method: method}
}

// Upstream starts the client span of the upstream call and returns the
// traceparent and tracestate to send with it; end ends the span with the
// upstream's status (0 when it did not answer).
func (q *Request) Upstream(service string) (traceparent, tracestate string, end func(status int)) {
	ctx, span := q.t.tracer.Start(q.ctx, "upstream "+service, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("portcullis.service", service)))
	carrier := propagation.MapCarrier{}
	q.t.prop.Inject(ctx, carrier)
	return carrier["traceparent"], carrier["tracestate"], func(status int) {
		if status != 0 {
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		}
		if status == 0 || status >= 500 {
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
}

// Facts are what the server span records of a finished request.
type Facts struct {
	Route         string // the route's name; "" when none matched
	Path          string // redacted, without the query
	ClientIP      string
	Consumer      string
	RequestID     string
	Decision      string
	Status        int
	PolicyVersion int64
}

// End ends the server span at end with f.
func (q *Request) End(f Facts, end time.Time) {
	span := q.span
	if f.Route != "" {
		span.SetName(q.method + " " + f.Route)
		span.SetAttributes(semconv.HTTPRoute(f.Route))
	}
	span.SetAttributes(
		semconv.URLPath(f.Path),
		semconv.ClientAddress(f.ClientIP),
		semconv.HTTPResponseStatusCode(f.Status),
		attribute.String("portcullis.request_id", f.RequestID),
		attribute.String("portcullis.decision", f.Decision),
		attribute.Int64("portcullis.policy_version", f.PolicyVersion),
	)
	if f.Consumer != "" {
		span.SetAttributes(attribute.String("portcullis.consumer", f.Consumer))
	}
	if f.Status >= 500 {
		span.SetStatus(codes.Error, "")
	}
	span.End(trace.WithTimestamp(end))
}
