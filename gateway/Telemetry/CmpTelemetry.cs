using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CmpCluster.Gateway.Telemetry;

/// <summary>The <c>Telemetry</c> section: where metrics and traces go.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>Serve Prometheus metrics at <see cref="PrometheusPath"/> (unauthenticated, like most scrape endpoints:
    /// bind the node to an internal address or filter the path at the load balancer).</summary>
    public bool Prometheus { get; set; } = true;

    /// <summary>Path of the Prometheus scrape endpoint on the management listener.</summary>
    public string PrometheusPath { get; set; } = "/metrics";

    /// <summary>OTLP collector (e.g. http://127.0.0.1:4317). When set, metrics and traces are also exported there; traces
    /// are recorded only then, so a node without a collector pays nothing for spans.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>service.name of the OpenTelemetry resource (metrics and traces).</summary>
    public string ServiceName { get; set; } = "cmpcluster";

    /// <summary>
    /// Whether traces are recorded (an OTLP collector is configured). Orleans' activity propagation (a filter on every grain
    /// call, both ends) is added only then: without a collector nobody reads the spans it would carry.
    /// </summary>
    public static bool TracingEnabled(IConfiguration configuration) =>
        !string.IsNullOrEmpty(configuration.GetSection(Section).Get<TelemetryOptions>()?.OtlpEndpoint);
}

/// <summary>The gateway's instruments, and the OpenTelemetry wiring shared by every host that serves HTTP.</summary>
public static class CmpTelemetry
{
    public const string GatewayName = "CmpCluster.Gateway";

    /// <summary>The meters and sources the hosts export; dashboards (deploy/grafana) query these names.</summary>
    public static readonly string[] Meters = [GatewayName, "CmpCluster.Grains", OrleansMeter];

    /// <summary>Orleans' own meter; only <see cref="OrleansInstruments"/> of it are recorded.</summary>
    private const string OrleansMeter = "Microsoft.Orleans";
    public static readonly string[] Sources = [GatewayName, "CmpCluster.Grains", "Microsoft.Orleans.Application"];

    /// <summary>
    /// The instruments of Orleans' meter that are exported: activations, storage, reminders, gateways, failures and health.
    /// The others are recorded on every message or activation (message and header sizes, dispatcher and directory
    /// counters, per-call latency) and one observable gauge walks every activation on each read
    /// (<c>orleans-messaging-processing-activation-data</c>): left out, Orleans does not record them at all.
    /// </summary>
    public static readonly IReadOnlySet<string> OrleansInstruments = new HashSet<string>(StringComparer.Ordinal)
    {
        "orleans-catalog-activations", "orleans-catalog-activation-working-set", "orleans-catalog-activation-created",
        "orleans-catalog-activation-destroyed", "orleans-catalog-activation-failed-to-activate", "orleans-catalog-activation-collections",
        "orleans-catalog-activation-shutdown", "orleans-grains", "orleans-directory-cache-size",
        "orleans-storage-read-latency", "orleans-storage-write-latency", "orleans-storage-clear-latency",
        "orleans-storage-read-errors", "orleans-storage-write-errors", "orleans-storage-clear-errors",
        "orleans-app-requests-timedout", "orleans-app-requests-canceled",
        "orleans-messaging-rejected", "orleans-messaging-expired", "orleans-messaging-rerouted", "orleans-messaging-sent-failed",
        "orleans-messaging-sent-dropped", "orleans-gateway-connected-clients", "orleans-gateway-load-shedding",
        "orleans-client-connected-gateways", "orleans-networking-sockets-opened", "orleans-networking-sockets-closed",
        "orleans-reminders-active", "orleans-reminders-tardiness", "orleans-reminders-ticks-delivered",
        "orleans-scheduler-long-running-turns", "orleans-watchdog-health-checks", "orleans-watchdog-health-checks-failed",
        "orleans-runtime-available-memory", "orleans-runtime-total-physical-memory", "orleans-consistent-ring-size",
    };

    private static readonly Meter Meter = new(GatewayName);

    /// <summary>CMP HTTP requests by alias and HTTP status (200 includes CMP-level errors; the grains count those by failInfo).
    /// CMP over TCP frames are counted here too, tagged <c>transport=tcp</c>, their outcome mapped to the HTTP status
    /// an HTTP request would have got (200 pkiRep, 400 bad frame, 404 unknown alias, 408 read timeout, 413 too large,
    /// 429 refused by a rate limit, 503 cluster did not answer).</summary>
    public static readonly Counter<long> HttpRequests = Meter.CreateCounter<long>("cmp.http.requests", "{request}", "CMP requests received over HTTP");

    public static readonly Histogram<double> HttpDuration = Meter.CreateHistogram<double>(
        "cmp.http.duration", "ms", "Time from the CMP request's body (or TCP frame) read to the response written");

    /// <summary>Requests (HTTP) and frames or connections (TCP) a gateway rate limit refused; tags <c>transport</c> (http,
    /// tcp), <c>limit</c> (address, alias, alias_concurrency) and <c>alias</c>; never the client address (unbounded).</summary>
    public static readonly Counter<long> RateLimited = Meter.CreateCounter<long>(
        "cmp.gateway.rate_limited", "{request}", "Requests refused by a gateway rate limit (HTTP 429, TCP close)");

    public static IServiceCollection AddCmpTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        TelemetryOptions options = configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        services.Configure<TelemetryOptions>(configuration.GetSection(TelemetryOptions.Section));
        OpenTelemetry.OpenTelemetryBuilder telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(options.ServiceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(Meters).AddAspNetCoreInstrumentation().AddRuntimeInstrumentation()
                    .AddView(instrument => instrument.Meter.Name == OrleansMeter && !OrleansInstruments.Contains(instrument.Name)
                        ? MetricStreamConfiguration.Drop
                        : null);
                if (options.Prometheus)
                {
                    metrics.AddPrometheusExporter();
                }
                if (options.OtlpEndpoint is { Length: > 0 } endpoint)
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
                }
            });
        if (options.OtlpEndpoint is { Length: > 0 } traceEndpoint)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(Sources)
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter(o => o.Endpoint = new Uri(traceEndpoint)));
        }
        return services;
    }

    public static WebApplication MapCmpTelemetry(this WebApplication app)
    {
        TelemetryOptions options = app.Configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        if (options.Prometheus)
        {
            // An operator surface: served on the management listener only (Hosting/ManagementListener.cs).
            app.MapPrometheusScrapingEndpoint(options.PrometheusPath).WithMetadata(Hosting.ManagementEndpoint.Instance);
        }
        return app;
    }

    /// <summary>Records one CMP HTTP exchange and tags the ASP.NET Core span with the alias.</summary>
    public static void RecordHttp(string alias, int status, long startedTimestamp)
    {
        Activity.Current?.SetTag("cmp.alias", alias);
        HttpRequests.Add(1, new("alias", alias), new("status", status));
        HttpDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalMilliseconds, new("alias", alias), new("status", status));
    }

    public static void RecordRateLimited(string transport, string limit, string alias) =>
        RateLimited.Add(1, new("transport", transport), new("limit", limit), new("alias", alias));

    /// <summary>Records one CMP-over-TCP frame on the HTTP instruments, tagged <c>transport=tcp</c>.</summary>
    public static void RecordTcp(string alias, int status, long startedTimestamp)
    {
        HttpRequests.Add(1, new("alias", alias), new("status", status), new("transport", "tcp"));
        HttpDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalMilliseconds,
            new("alias", alias), new("status", status), new("transport", "tcp"));
    }
}
