using CmpCluster.Gateway.Admin;
using CmpCluster.Gateway.RateLimiting;
using CmpCluster.Gateway.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CmpCluster.Gateway.Hosting;

/// <summary>
/// What every host that serves the CMP endpoints registers and maps: the co-hosted single node (silo/Program.cs) and
/// the standalone gateway (<see cref="GatewayProgram"/>). One list, so the two hosts cannot drift apart.
/// </summary>
public static class GatewayHosting
{
    public static IServiceCollection AddGatewayServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddCmpGateway();
        services.AddCmpTelemetry(configuration);
        services.AddAdminApi(configuration);
        services.AddGatewayRateLimiting(configuration);
        return services;
    }

    /// <summary>HTTPS: the server certificate and client-certificate mode come from Kestrel's own configuration
    /// (<c>Kestrel:Endpoints:Https:...</c>); <see cref="GatewayTls"/> adds the trust anchors for RA client certificates.</summary>
    public static IWebHostBuilder UseGatewayTls(this IWebHostBuilder web, IConfiguration configuration) =>
        GatewayTls.Configure(web, configuration);

    /// <summary>CMP, CRL/OCSP, metrics, admin API and the health probes, behind the listener split and the rate limits.</summary>
    public static WebApplication MapGatewayEndpoints(this WebApplication app)
    {
        app.UseManagementListener();
        app.UseGatewayRateLimiting();
        app.MapCmpEndpoints();
        app.MapRevocationEndpoints();
        app.MapCmpTelemetry();
        app.MapAdminApi();
        app.MapHealthEndpoints();
        return app;
    }
}
