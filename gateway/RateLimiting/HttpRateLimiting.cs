using System.Globalization;
using System.Threading.RateLimiting;
using CmpCluster.Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.RateLimiting;

/// <summary>
/// The gateway limits as ASP.NET Core's global limiter: device endpoints (<see cref="DeviceEndpoint"/> metadata) take a
/// lease from <see cref="GatewayRateLimiter"/>; every other endpoint passes. A refusal is a transport answer like 413:
/// HTTP 429 with <c>Retry-After</c> (RFC 6585 §4, RFC 9110 §10.2.3), never a CMP error message.
/// </summary>
public sealed class HttpRateLimiter(GatewayRateLimiter limiter, CmpDispatcher dispatcher) : PartitionedRateLimiter<HttpContext>
{
    private static readonly object RefusalKey = new();
    private static readonly RateLimitLease Unlimited = GatewayLease.Granted([]);

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => null;

    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount)
    {
        if (!limiter.Enabled || resource.GetEndpoint()?.Metadata.GetMetadata<DeviceEndpoint>() is not { } device)
        {
            return Unlimited;
        }
        string address = GatewayRateLimiter.AddressKey(limiter.ClientAddress(resource));
        GatewayLease lease = limiter.Acquire(address, KnownAlias(resource, device));
        if (!lease.IsAcquired)
        {
            resource.Items[RefusalKey] = lease;
        }
        return lease;
    }

    /// <summary>Nothing queues: the middleware asks again only after a refusal, which stands.</summary>
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext resource, int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(resource.Items.TryGetValue(RefusalKey, out object? refusal) && refusal is RateLimitLease lease
            ? lease
            : AttemptAcquireCore(resource, permitCount));

    /// <summary>The CMP alias of the request if it is a configured one: unknown aliases must not create partitions.</summary>
    internal string? KnownAlias(HttpContext http, DeviceEndpoint device) =>
        device.Traffic == DeviceTraffic.Cmp && http.GetRouteValue("alias") is string alias && dispatcher.IsKnownAlias(alias) ? alias : null;

    /// <summary>The <c>alias</c> tag of a refusal: the alias, <c>(unknown)</c>, or <c>(none)</c> for CRL and OCSP.</summary>
    internal string AliasTag(HttpContext http) => http.GetEndpoint()?.Metadata.GetMetadata<DeviceEndpoint>() switch
    {
        { Traffic: DeviceTraffic.Cmp } device => KnownAlias(http, device) ?? "(unknown)",
        _ => "(none)",
    };
}

public static class HttpRateLimitingExtensions
{
    /// <summary>Section <c>RateLimits</c>, validated at start; the shared limiter, the refusal report and ASP.NET Core's middleware options.</summary>
    public static IServiceCollection AddGatewayRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RateLimitOptions>().Bind(configuration.GetSection(RateLimitOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        services.AddSingleton<GatewayRateLimiter>();
        services.AddSingleton<HttpRateLimiter>();
        services.AddSingleton<RateLimitReporter>();
        services.AddHostedService(sp => sp.GetRequiredService<RateLimitReporter>());
        services.AddOptions<RateLimiterOptions>().Configure<HttpRateLimiter, RateLimitReporter>((o, limiter, reporter) =>
        {
            o.GlobalLimiter = limiter;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = (context, _) => RefuseAsync(context, limiter, reporter);
        });
        services.AddRateLimiter(_ => { });
        return services;
    }

    /// <summary>After routing (WebApplication puts UseRouting first), so the limiter sees the endpoint and its alias.</summary>
    public static WebApplication UseGatewayRateLimiting(this WebApplication app)
    {
        app.UseRateLimiter();
        return app;
    }

    private static ValueTask RefuseAsync(OnRejectedContext context, HttpRateLimiter limiter, RateLimitReporter reporter)
    {
        HttpContext http = context.HttpContext;
        GatewayRateLimiter core = http.RequestServices.GetRequiredService<GatewayRateLimiter>();
        RateLimitKind kind = context.Lease.TryGetMetadata(GatewayLease.KindMetadata, out object? value) && value is RateLimitKind k ? k : RateLimitKind.Address;
        reporter.Refused("http", kind, limiter.AliasTag(http), GatewayRateLimiter.AddressKey(core.ClientAddress(http)));
        // Whole seconds, rounded up; the concurrency cap has no schedule: a second is a fair guess.
        TimeSpan retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? after : TimeSpan.FromSeconds(1);
        http.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        http.Response.ContentType = "text/plain";
        return new ValueTask(http.Response.WriteAsync("rate limit exceeded\n", http.RequestAborted));
    }
}
