using System.Net;
using CmpCluster.Gateway.Hosting;
using CmpCluster.Grains;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Silo.Storage;
using Orleans.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Hosting;
using Orleans.Runtime;

namespace CmpCluster.Silo;

/// <summary>
/// The only thing the node mode changes: where membership, grain state and reminders live. Grains and code paths are
/// the same in both modes, and grain state keeps the Orleans binary serializer registered under <see cref="GrainNames.Storage"/>
/// (both providers pick it up from DI by provider name).
/// </summary>
public static class SiloProviders
{
    /// <summary>Membership timing (<c>Orleans:Membership:ProbeTimeout</c>, <c>NumMissedProbesLimit</c>, …), for tests
    /// and operators who want a dead silo declared sooner than Orleans' defaults (≈ 10 s or more).</summary>
    public const string MembershipSection = "Orleans:Membership";

    /// <summary><c>Orleans:Messaging:ResponseTimeout</c> and friends (default 30 s): how long a call to a silo that died waits.</summary>
    public const string MessagingSection = "Orleans:Messaging";

    /// <summary><c>Orleans:GrainDirectory</c> (CacheSize, CachingStrategy): Orleans' cache of grain addresses.</summary>
    public const string GrainDirectorySection = "Orleans:GrainDirectory";

    /// <summary>Grain addresses a silo caches by default (Orleans' own default: 1 000 000).</summary>
    public const int DirectoryCacheSize = 20_000;

    /// <summary><c>Orleans:GrainCollection</c> (CollectionQuantum, CollectionAge): when idle activations are collected.</summary>
    public const string GrainCollectionSection = "Orleans:GrainCollection";

    /// <summary>
    /// How often idle activations are collected (Orleans' default: 1 minute). Under a steady load each collection
    /// deactivates every end entity and index grain that aged out since the last one, thousands at once on a busy node:
    /// with a minute between them the soak showed a p99 spike every minute (docs/BENCHMARKS.md). Four times as often,
    /// each batch is a quarter of the size.
    /// </summary>
    public static readonly TimeSpan CollectionQuantum = TimeSpan.FromSeconds(15);

    /// <summary>The single node's table of transaction state (<see cref="GrainNames.Transactions"/>) in <c>cluster.db</c>.</summary>
    public const string TransactionTable = "transaction_state";

    /// <param name="tls">Cluster mode: the cluster TLS settings loaded by the host (null: TLS off or single node).</param>
    public static ISiloBuilder UseStorageProviders(this ISiloBuilder silo, NodeOptions node, IConfiguration configuration, string dataDirectory, ClusterTls? tls)
    {
        silo.Services.Configure<ClusterMembershipOptions>(configuration.GetSection(MembershipSection));
        silo.Services.Configure<SiloMessagingOptions>(configuration.GetSection(MessagingSection));
        // Orleans caches the address of every grain it ever looked up, up to 1 000 000 entries by default (about 200 bytes
        // each): with a transaction, a certificate and an end entity per enrollment that cache alone grew the heap by
        // about 2.5 MiB/min at 50 enrollments/s (docs/BENCHMARKS.md, soak after retention). Our grains are touched in a
        // burst and then rarely, so a smaller cache loses little. Orleans:GrainDirectory:CacheSize overrides it.
        silo.Services.Configure<GrainDirectoryOptions>(o => o.CacheSize = DirectoryCacheSize);
        silo.Services.Configure<GrainDirectoryOptions>(configuration.GetSection(GrainDirectorySection));
        silo.Services.Configure<GrainCollectionOptions>(o => o.CollectionQuantum = CollectionQuantum);
        silo.Services.Configure<GrainCollectionOptions>(configuration.GetSection(GrainCollectionSection));
        if (node.Mode == NodeMode.SingleNode)
        {
            silo.UseLocalhostClustering(node.SiloPort, node.EffectiveGatewayPort, serviceId: node.ServiceId, clusterId: node.ClusterId);
            silo.ConfigureEndpoints(IPAddress.Loopback, node.SiloPort, node.EffectiveGatewayPort, listenOnAnyHostAddress: false);
            silo.AddSqliteGrainStorage(GrainNames.Storage, o => o.DataDirectory = dataDirectory);
            // Transactions in the same file, with their deadlines and expiry in the same rows (grains/Storage/StateLifetime.cs),
            // in a table of their own: deleted oldest first at the end of retention, they free whole pages that new
            // transactions reuse, where among certificates and end entities they left half-empty pages behind.
            silo.AddSqliteGrainStorage(GrainNames.Transactions, o => (o.DataDirectory, o.TableName) = (dataDirectory, TransactionTable));
            silo.UseSqliteReminderService(o => o.DataDirectory = dataDirectory);
            UseSubjectIndex(silo.Services, _ => new SqliteSubjectIndex(new SqliteStoreOptions { DataDirectory = dataDirectory }));
            return silo;
        }

        ClusterConnection connection = ClusterConnection.Read(configuration);
        // Orleans' default (resource-optimized) placement put 80 % of new grains on one of two silos here; random
        // placement spreads transaction, certificate and end-entity grains evenly. Grains with their own attribute
        // (the stateless-worker signer, always local) keep it.
        silo.Services.RemoveAll<PlacementStrategy>();
        silo.Services.AddSingleton<PlacementStrategy, RandomPlacement>();
        if (node.Kubernetes)
        {
            // Takes ClusterOptions and endpoints from the pod (POD_IP, POD_NAME, ORLEANS_SERVICE_ID / ORLEANS_CLUSTER_ID).
            silo.UseKubernetesHosting();
        }
        else
        {
            silo.ConfigureEndpoints(IPAddress.Parse(node.AdvertisedAddress), node.SiloPort, node.EffectiveGatewayPort, listenOnAnyHostAddress: node.ListenOnAnyHostAddress);
        }
        // Mutual TLS on silo-to-silo and client-to-silo links (Cluster:Tls, on unless turned off): only processes holding a
        // certificate of the cluster CA join or call in.
        if (tls is not null)
        {
            silo.UseTls(tls.Configure);
        }
        silo.UseRedisClustering(o => o.ConfigurationOptions = connection.RedisOptions());
        // Both providers are the project's own Redis store (silo/Storage/RedisLifetimeGrainStorage.cs), which indexes due
        // times and expires keys in the same atomic write as the state. Certificates, end entities and CA state keep the
        // layout of Orleans' Redis grain storage that earlier versions used for them, so they are read and written in place.
        RedisLifetimeGrainStorage.Add(silo.Services, GrainNames.Storage, RedisStateLayout.Orleans(GrainNames.Storage),
            _ => (connection.RedisOptions(), connection.ServiceId));
        RedisLifetimeGrainStorage.Add(silo.Services, GrainNames.Transactions, RedisStateLayout.Transactions(Grains.Transactions.CmpTransactionGrain.StateName),
            _ => (connection.RedisOptions(), connection.ServiceId));
        silo.UseRedisReminderService(o => o.ConfigurationOptions = connection.RedisOptions());
        UseSubjectIndex(silo.Services, _ => new RedisSubjectIndex(connection.RedisOptions(), connection.ServiceId));
        return silo;
    }

    /// <summary>
    /// The subject-DN index in the store itself instead of a grain per DN (grains/EndEntities/SubjectIndex.cs): an end
    /// entity's enrollment then costs one grain call, activation and state write fewer. Entries earlier versions kept in
    /// index grains are still read and removed, so an upgrade needs no migration.
    /// </summary>
    public static void UseSubjectIndex<TStore>(IServiceCollection services, Func<IServiceProvider, TStore> store) where TStore : class, ISubjectIndex
    {
        // A singleton of its own, so the container disposes it at shutdown (the SQLite file is released, the Redis link closed).
        services.AddSingleton(store);
        services.RemoveAll<ISubjectIndex>();
        services.AddSingleton<ISubjectIndex>(sp => new StoreSubjectIndex(sp.GetRequiredService<TStore>(), sp.GetRequiredService<GrainSubjectIndex>()));
    }
}
