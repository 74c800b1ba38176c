using System.Text.Json.Serialization;
using CmpCluster.Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.Admin;

/// <summary>
/// The admin REST API (/api/v1, bearer tokens) and its OpenAPI document (/openapi/v1.json, public: it describes the
/// API, it holds no data). Like the CMP endpoints it only calls grains; no key is ever within its reach.
/// </summary>
public static class AdminApi
{
    public const string Prefix = "/api/v1";

    public static IServiceCollection AddAdminApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AdminOptions>().Bind(configuration.GetSection(AdminOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
        services.AddSingleton<AdminTokens>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        services.AddOpenApi();
        return services;
    }

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        ILogger logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(AdminLog.Category);
        // Resolving the options here validates them before the node starts serving; a bad token stops it with the key named.
        if (!endpoints.ServiceProvider.GetRequiredService<IOptions<AdminOptions>>().Value.Enabled)
        {
            AdminLog.Disabled(logger);
            return endpoints;
        }
        // Built now, so the "no token" warning is logged once at start, not on the first request.
        endpoints.ServiceProvider.GetRequiredService<AdminTokens>();

        // Operator surfaces: served on the management listener only (ManagementListener).
        endpoints.MapOpenApi().ForOperators();
        RouteGroupBuilder api = endpoints.MapGroup(Prefix)
            .ForOperators()
            .AddEndpointFilter<AdminAuthenticationFilter>()
            .AddEndpointFilter<ClusterUnavailableFilter>()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapEndEntityEndpoints();
        api.MapPkiEndpoints();
        api.MapRevocationAdminEndpoints();
        api.MapApprovalEndpoints();
        api.MapAuditEndpoints();
        return endpoints;
    }
}

/// <summary>The cluster did not answer: 503, the same transport fault the CMP endpoints report.</summary>
internal sealed class ClusterUnavailableFilter(ILoggerFactory loggers) : IEndpointFilter
{
    private readonly ILogger _logger = loggers.CreateLogger(AdminLog.Category);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception e) when (e is TimeoutException or Orleans.Runtime.OrleansException)
        {
            AdminLog.ClusterUnavailable(_logger, e, context.HttpContext.Request.Method, context.HttpContext.Request.Path);
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "CA temporarily unavailable");
        }
    }
}
