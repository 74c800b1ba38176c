using CmpCluster.Gateway.Tcp;
using CmpCluster.Protocol.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;

namespace CmpCluster.Gateway.Hosting;

/// <summary>
/// The standalone gateway: an Orleans client of a Redis-clustered silo cluster (the gateway list comes from Redis)
/// serving the same HTTP endpoints as the co-hosted single node. It holds no CA key and needs no CMP secret: it reads
/// only alias names, limits and profile names from the Cmp section (<see cref="GatewayCmpOptionsValidator"/>).
/// </summary>
/// <remarks>The Orleans client starts before Kestrel, so its HTTP ports open only once it has reached the cluster;
/// until then it keeps retrying (<see cref="RetryForeverFilter"/>).</remarks>
public static class GatewayProgram
{
    public const string SettingsFile = "gateway.json";

    public static int Main(string[] args)
    {
        bool contentRootGiven = args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase));
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = contentRootGiven ? null : AppContext.BaseDirectory,
        });
        AddSettingsFile(builder.Configuration, builder.Environment);
        builder.ConfigureGatewayListeners();
        builder.WebHost.UseGatewayTls(builder.Configuration);

        ClusterConnection connection = ClusterConnection.Read(builder.Configuration);
        ClusterTls? tls;
        try
        {
            tls = ClusterTls.Load(builder.Configuration);
        }
        catch (InvalidOperationException e)
        {
            // A gateway that cannot authenticate to the silos says why and stops, rather than retrying for ever.
            Console.Error.WriteLine($"cannot start the gateway: {e.Message}");
            return 3;
        }
        builder.Services.AddOptions<CmpOptions>().BindConfiguration(CmpOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<CmpOptions>, GatewayCmpOptionsValidator>();
        builder.Services.AddGatewayServices(builder.Configuration);
        // CMP over TCP (off in gateway.json: several gateways on one machine would share port 8829; enable per gateway).
        builder.Services.AddCmpTcpGateway(builder.Configuration);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = connection.ClusterId;
                o.ServiceId = connection.ServiceId;
            });
            client.UseRedisClustering(o => o.ConfigurationOptions = connection.RedisOptions());
            if (tls is not null)
            {
                client.UseTls(tls.Configure);
            }
            if (Telemetry.TelemetryOptions.TracingEnabled(builder.Configuration))
            {
                client.AddActivityPropagation();
            }
            client.UseConnectionRetryFilter<RetryForeverFilter>();
            client.Services.Configure<ClientMessagingOptions>(builder.Configuration.GetSection("Orleans:Messaging"));
            // Orleans:Gateway:GatewayListRefreshPeriod (default 1 min): how soon silos that joined are used.
            client.Services.Configure<GatewayOptions>(builder.Configuration.GetSection("Orleans:Gateway"));
        });

        WebApplication app = builder.Build();
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CmpCluster.Gateway");
        try
        {
            _ = app.Services.GetRequiredService<IOptions<CmpOptions>>().Value;
            app.MapGatewayEndpoints();
            app.Run();
            return 0;
        }
        catch (OptionsValidationException e)
        {
            GatewayLog.InvalidConfiguration(logger, string.Join("; ", e.Failures));
            return 2;
        }
    }

    /// <summary>gateway.json sits where appsettings.json would, so environment variables and the command line still win.</summary>
    private static void AddSettingsFile(ConfigurationManager configuration, IHostEnvironment environment)
    {
        var source = new JsonConfigurationSource { Path = SettingsFile, Optional = true, ReloadOnChange = false, FileProvider = environment.ContentRootFileProvider };
        IList<IConfigurationSource> sources = ((IConfigurationBuilder)configuration).Sources;
        int appSettings = sources.Select((s, i) => (s, i)).LastOrDefault(p => p.s is JsonConfigurationSource).i;
        sources.Insert(appSettings + 1, source);
    }
}

/// <summary>Keeps trying to reach the cluster (silos may start after the gateway, or be restarting); logs each failure.</summary>
public sealed class RetryForeverFilter(ILogger<RetryForeverFilter> logger) : IClientConnectionRetryFilter
{
    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        GatewayLog.ClusterNotReached(logger, exception.Message);
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        return !cancellationToken.IsCancellationRequested;
    }
}

/// <summary>What the gateway checks of the Cmp section: only what routing and limits use (the limits against their [Range]
/// attributes, <see cref="OptionAnnotations"/>). Secrets are the silos' business.</summary>
public sealed class GatewayCmpOptionsValidator : IValidateOptions<CmpOptions>
{
    public ValidateOptionsResult Validate(string? name, CmpOptions options)
    {
        var errors = new List<string>();
        if (options.Aliases.Count == 0) errors.Add("Cmp:Aliases must define at least one alias");
        OptionAnnotations.Validate(options.Limits, $"{CmpOptions.Section}:{nameof(CmpOptions.Limits)}", errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

internal static partial class GatewayLog
{
    [LoggerMessage(1, LogLevel.Critical, "Invalid configuration: {Failures}")]
    public static partial void InvalidConfiguration(ILogger logger, string failures);

    [LoggerMessage(2, LogLevel.Warning, "Cluster not reached yet, retrying in 1 s: {Reason}")]
    public static partial void ClusterNotReached(ILogger logger, string reason);
}
