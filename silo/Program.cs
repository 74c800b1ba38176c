using CmpCluster.Gateway.Hosting;
using CmpCluster.Gateway.Tcp;
using CmpCluster.Grains;
using CmpCluster.Grains.Audit;
using CmpCluster.Grains.Pki;
using CmpCluster.Grains.Revocation;
using CmpCluster.Grains.Transactions;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Silo;
using CmpCluster.Silo.Audit;
using CmpCluster.Silo.Storage;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Storage;

// One process is an Orleans silo with the CMP gateway endpoints co-hosted. Single-node default: state in SQLite under
// the data directory. Node:Mode=Cluster: Redis clustering, grain storage and reminders (SiloProviders), the same grains.
// Wiring only; behaviour lives in grains/ and gateway/.
if (AuditCommand.Handles(args))
{
    return AuditCommand.Run(args, Console.Out); // `audit verify ...`: reads the audit trail, starts no node
}
if (PkiCommand.Handles(args))
{
    return PkiCommand.Run(args, Console.Out); // `pki rollover-root | renew-ca`: the CA's lifecycle on its files, starts no node
}
// Settings ship next to the binary: the content root is the build output unless --contentRoot says otherwise, so the
// node finds appsettings.json whatever folder it is started from (its data still goes to ./data of that folder).
bool contentRootGiven = args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase));
WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    ContentRootPath = contentRootGiven ? null : AppContext.BaseDirectory,
});
// Devices on --urls (default http://127.0.0.1:8080); admin API, /metrics and the dashboard on Management:Urls
// (default http://127.0.0.1:8081).
builder.ConfigureGatewayListeners();

NodeOptions node = builder.Configuration.GetSection(NodeOptions.Section).Get<NodeOptions>() ?? new NodeOptions();
string dataDirectory = Path.GetFullPath(node.DataDirectory);
Directory.CreateDirectory(dataDirectory);

// Each section's validator checks its ranges ([Range] attributes) and rules, naming the key in every failure.
builder.Services.AddOptions<NodeOptions>().BindConfiguration(NodeOptions.Section).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<NodeOptions>, NodeOptionsValidator>();
builder.Services.AddOptions<PkiOptions>().BindConfiguration(PkiOptions.Section).ValidateOnStart();
builder.Services.AddOptions<CmpOptions>().BindConfiguration(CmpOptions.Section).ValidateOnStart();
builder.Services.AddCmpGrains();
builder.Services.AddCmpAudit().AddAuditStore(node, builder.Configuration, dataDirectory);
builder.Services.AddGatewayServices(builder.Configuration);
builder.WebHost.UseGatewayTls(builder.Configuration);
builder.Services.AddSingleton(new RecordedCaDirectory(dataDirectory)); // CAs made through the admin API (grains/Pki/RecordedCas.cs)
builder.Services.AddSingleton(sp => PkiKeys.Load(
    sp.GetRequiredService<IOptions<PkiOptions>>().Value, dataDirectory, sp.GetRequiredService<ILoggerFactory>().CreateLogger("CmpCluster.Pki")));
// Grain state in Orleans' own binary format: compact, and version-tolerant through the [Id] attributes.
foreach (string provider in new[] { GrainNames.Storage, GrainNames.Transactions })
{
    builder.Services.AddKeyedSingleton<IGrainStorageSerializer>(provider,
        (sp, _) => new PooledGrainStorageSerializer(sp.GetRequiredService<Orleans.Serialization.Serializer>()));
}

// The Orleans Dashboard is opt-in: it reads every Orleans instrument once a second (a fixed interval), and one of them
// walks every activation; on a node holding tens of thousands of activations that was 4 % of its CPU with nobody
// watching (docs/BENCHMARKS.md, "2026-12-04 — thread-pool spinning and the dashboard's counters").
bool dashboard = builder.Configuration.GetValue("Dashboard:Enabled", false);
// Cluster TLS files are read before the silo is built: a missing or unreadable certificate stops the node with one line
// naming the setting (exit 3), as the gateway does, not with a stack trace.
ClusterTls? clusterTls;
try
{
    clusterTls = node.Mode == NodeMode.Cluster ? ClusterTls.Load(builder.Configuration) : null;
}
catch (InvalidOperationException e)
{
    using ILoggerFactory early = LoggerFactory.Create(logging => logging.AddConsole());
    StartupLog.StartFailed(early.CreateLogger("CmpCluster.Silo"), e.Message);
    return 3;
}

builder.UseOrleans(silo =>
{
    silo.Configure<ClusterOptions>(o =>
    {
        o.ClusterId = node.ClusterId;
        o.ServiceId = node.ServiceId;
    });
    // Traces continue from the HTTP request into the grain calls, when traces are recorded at all (Telemetry:OtlpEndpoint).
    if (CmpCluster.Gateway.Telemetry.TelemetryOptions.TracingEnabled(builder.Configuration))
    {
        silo.AddActivityPropagation();
    }
    if (dashboard)
    {
        // Orleans Dashboard (grain activations, calls, silo CPU) at /dashboard on the management listener, when
        // Dashboard__Enabled=true.
        silo.AddDashboard();
    }
    silo.UseStorageProviders(node, builder.Configuration, dataDirectory, clusterTls);
    TimeSpan confirmCheck = builder.Configuration.GetSection(CmpOptions.Section).Get<CmpOptions>()?.ConfirmCheckPeriod ?? TimeSpan.FromMinutes(1);
    PkiOptions pkiSettings = builder.Configuration.GetSection(PkiOptions.Section).Get<PkiOptions>() ?? new PkiOptions();
    TimeSpan crlCheck = pkiSettings.Definitions().Select(ca => pkiSettings.CrlOf(ca.Name).CheckPeriod).Min();
    TimeSpan shortest = confirmCheck < crlCheck ? confirmCheck : crlCheck;
    silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = shortest < o.MinimumReminderPeriod ? shortest : o.MinimumReminderPeriod);
    silo.AddRevocationPublishing();
});
// CMP over TCP (EJBCA's cmptcp framing); after UseOrleans so it stops before the silo.
builder.Services.AddCmpTcpGateway(builder.Configuration);

WebApplication app = builder.Build();
ILogger startup = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CmpCluster.Silo");
try
{
    // Validate the configuration, then load (or create) the CA keys, before the silo starts: a bad setting or a
    // wrong passphrase stops the process at once, and a bad setting leaves no PKI behind.
    CmpOptions cmp = app.Services.GetRequiredService<IOptions<CmpOptions>>().Value;
    app.Services.GetRequiredService<PkiKeyRing>();
    app.Services.GetRequiredService<AuditSigningKey>();
    foreach ((string alias, CmpAliasOptions settings) in cmp.Aliases)
    {
        if (settings.Secret == "changeit")
        {
            StartupLog.DevelopmentSecret(startup, alias);
        }
    }
    app.MapGatewayEndpoints();
    if (dashboard)
    {
        app.MapOrleansDashboard(routePrefix: "/dashboard").ForOperators();
    }
    app.Run();
    return 0;
}
catch (OptionsValidationException e)
{
    // A bad configuration is an operator's mistake: say which keys, without a stack trace, and exit non-zero.
    StartupLog.InvalidConfiguration(startup, string.Join("; ", e.Failures));
    return 2;
}
catch (Exception e) when (e is IOException or InvalidOperationException && e.Message.Length > 0)
{
    StartupLog.StartFailed(startup, e.Message);
    return 3;
}

/// <summary>Entry point type, visible to tests that host the node in-process.</summary>
public partial class Program;
