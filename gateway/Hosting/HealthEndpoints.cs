using CmpCluster.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CmpCluster.Gateway.Hosting;

/// <summary>
/// Probes for load balancers and orchestrators. <c>/healthz</c>: the process serves HTTP (liveness; never calls the
/// cluster, so a cluster outage does not get healthy gateways restarted). <c>/readyz</c>: a grain call answered within
/// <see cref="ReadinessTimeout"/>, i.e. this host reaches a silo that can activate grains (readiness). <c>/health</c>:
/// the first probe, as <c>/healthz</c>. <c>/health/ca/{name}</c>: whether that CA can sign now (200 <c>ok</c>, 503
/// <c>degraded</c> while a key of it is on a PKCS#11 token that is away, 404 for a CA not served); one CA's token does
/// not take the node out of rotation. None is rate-limited, and all answer on the device and management listeners.
/// </summary>
public static class HealthEndpoints
{
    public static readonly TimeSpan ReadinessTimeout = TimeSpan.FromSeconds(3);

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/health", () => Results.Text("ok"));
        endpoints.MapGet("/healthz", () => Results.Text("ok"));
        endpoints.MapGet("/readyz", ReadyAsync);
        endpoints.MapGet("/health/ca/{name}", CaAsync);
        return endpoints;
    }

    private static async Task<IResult> CaAsync(string name, IGrainFactory grains)
    {
        try
        {
            CaHealth health = await grains.GetGrain<ICaHealthGrain>(GrainKeys.Admin).CheckAsync(name).WaitAsync(ReadinessTimeout);
            return !health.Known ? Results.Text($"no CA '{name}'", statusCode: StatusCodes.Status404NotFound)
                : health.CanSign ? Results.Text("ok")
                : Results.Text($"degraded: CA '{name}' cannot sign now (its key is unavailable); issuance answers systemUnavail",
                    statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        catch (Exception e) when (e is TimeoutException or Orleans.Runtime.OrleansException or OperationCanceledException or InvalidOperationException)
        {
            return Results.Text("not connected to the cluster", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static async Task<IResult> ReadyAsync(IGrainFactory grains)
    {
        try
        {
            // The CA directory is a stateless worker: cheap, no storage, and it answers from whichever silo gets the call.
            IReadOnlyList<CaInfo> cas = await grains.GetGrain<ICaDirectoryGrain>(GrainKeys.Admin).ListAsync()
                .WaitAsync(ReadinessTimeout);
            return cas.Count > 0 ? Results.Text("ready") : Results.Text("no CA loaded", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        catch (Exception e) when (e is TimeoutException or Orleans.Runtime.OrleansException or OperationCanceledException or InvalidOperationException)
        {
            return Results.Text("not connected to the cluster", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }
}
