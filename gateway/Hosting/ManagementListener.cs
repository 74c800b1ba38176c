using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.Hosting;

/// <summary>The ports of the device and management listeners, as configured at start.</summary>
public sealed record GatewayListeners(IReadOnlySet<int> DevicePorts, IReadOnlySet<int> ManagementPorts);

/// <summary>
/// Two Kestrel listeners in one host. The device listener is <c>--urls</c> / <c>ASPNETCORE_URLS</c> (default
/// <see cref="DefaultDeviceUrl"/>) or, when set, every <c>Kestrel:Endpoints:*</c>; the management listener is
/// <c>Management:Urls</c>. Kestrel binds endpoints from configuration or from URLs, never both: the management URLs
/// join the device URLs, or become configuration endpoints (<c>CmpManagement0</c>, …) beside <c>Kestrel:Endpoints</c>.
/// Which listener a request came in on is the connection's local port, never the Host header (a client chooses that).
/// </summary>
public static class ManagementListener
{
    public const string DefaultDeviceUrl = "http://127.0.0.1:8080";

    public static WebApplicationBuilder ConfigureGatewayListeners(this WebApplicationBuilder builder)
    {
        ConfigurationManager configuration = builder.Configuration;
        ManagementOptions management;
        try
        {
            management = configuration.GetSection(ManagementOptions.Section).Get<ManagementOptions>() ?? new ManagementOptions();
        }
        catch (InvalidOperationException)
        {
            // A value that does not convert: binding the options at start reports it with the key.
            management = new ManagementOptions();
        }
        IConfigurationSection[] endpoints = configuration.GetSection("Kestrel:Endpoints").GetChildren().ToArray();
        string? urls = configuration["urls"];
        string[] deviceUrls = endpoints.Length > 0
            ? endpoints.Select(e => e["Url"]).OfType<string>().ToArray()
            : (string.IsNullOrWhiteSpace(urls) ? DefaultDeviceUrl : urls).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] managementUrls = management.UrlList.Where(u => ManagementOptions.PortOf(u) is not null).ToArray();

        if (endpoints.Length == 0)
        {
            // Both listeners from URLs: Kestrel binds every address in the list.
            builder.WebHost.UseUrls([.. deviceUrls, .. managementUrls]);
        }
        else if (managementUrls.Length > 0)
        {
            // Kestrel:Endpoints replaces --urls, so the management listener joins them as an endpoint of its own.
            configuration.AddInMemoryCollection(managementUrls.Select((url, i) =>
                KeyValuePair.Create($"Kestrel:Endpoints:CmpManagement{i}:Url", (string?)url)));
        }

        builder.Services.AddSingleton(new GatewayListeners(
            deviceUrls.Select(ManagementOptions.PortOf).OfType<int>().ToHashSet(),
            managementUrls.Select(ManagementOptions.PortOf).OfType<int>().ToHashSet()));
        builder.Services.AddOptions<ManagementOptions>().BindConfiguration(ManagementOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ManagementOptions>, ManagementOptionsValidator>();
        return builder;
    }

    /// <summary>
    /// Management endpoints answer only on the management listener (or everywhere with <c>Management:ServeOnDevicePort</c>),
    /// device endpoints only on a device listener; the other gets 404, as for a path that does not exist. Resolving the
    /// options here validates them before the host serves anything.
    /// </summary>
    public static WebApplication UseManagementListener(this WebApplication app)
    {
        GatewayListeners listeners = app.Services.GetRequiredService<GatewayListeners>();
        bool everywhere = app.Services.GetRequiredService<IOptions<ManagementOptions>>().Value.ServeOnDevicePort;
        app.Use(next => http =>
        {
            Endpoint? endpoint = http.GetEndpoint();
            if (endpoint is null)
            {
                return next(http);
            }
            bool onManagement = listeners.ManagementPorts.Contains(http.Connection.LocalPort);
            bool refused = endpoint.Metadata.GetMetadata<ManagementEndpoint>() is not null
                ? !onManagement && !everywhere
                : onManagement && endpoint.Metadata.GetMetadata<DeviceEndpoint>() is not null;
            if (!refused)
            {
                return next(http);
            }
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        return app;
    }
}
