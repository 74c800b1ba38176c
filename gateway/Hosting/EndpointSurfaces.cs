using Microsoft.AspNetCore.Builder;

namespace CmpCluster.Gateway.Hosting;

/// <summary>What a device endpoint serves; CMP requests count per address and per alias, CRL and OCSP per address.</summary>
public enum DeviceTraffic
{
    Cmp = 0,
    Revocation = 1,
}

/// <summary>Endpoint metadata: a device endpoint (CMP, CRL, OCSP), rate-limited, served on the device listener only.</summary>
public sealed record DeviceEndpoint(DeviceTraffic Traffic);

/// <summary>Endpoint metadata: an operator surface (admin API, OpenAPI, /metrics, dashboard), served on the management listener only.</summary>
public sealed class ManagementEndpoint
{
    public static readonly ManagementEndpoint Instance = new();

    private ManagementEndpoint()
    {
    }
}

/// <summary>
/// Marks endpoints by surface. Unmarked endpoints (the health probes) are served on every listener and never limited;
/// <see cref="ManagementListener"/> refuses the others on the wrong listener with 404.
/// </summary>
public static class EndpointSurfaceExtensions
{
    public static TBuilder ForDevices<TBuilder>(this TBuilder builder, DeviceTraffic traffic) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DeviceEndpoint(traffic));

    public static TBuilder ForOperators<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(ManagementEndpoint.Instance);
}
