using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace CmpCluster.Grains.Audit;

public static class AuditServices
{
    /// <summary>
    /// The audit trail (<see cref="IAuditTrail"/>, started and stopped with the silo) and its validated options (section
    /// <c>Audit</c>). The host adds an <see cref="IAuditStore"/> and an <see cref="AuditSigningKey"/>: silo/Audit/AuditHosting.cs
    /// (SQLite or Redis, key in the data directory), or <see cref="AddInMemoryAuditStore"/> in tests.
    /// </summary>
    public static IServiceCollection AddCmpAudit(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<AuditOptions>().BindConfiguration(AuditOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AuditOptions>, AuditOptionsValidator>());
        services.TryAddSingleton<AuditTrail>();
        services.TryAddSingleton<IAuditTrail>(sp => sp.GetRequiredService<AuditTrail>());
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<AuditTrail>());
        return services;
    }

    /// <summary>For grain tests: an <see cref="InMemoryAuditStore"/> and a key that lives only in memory (both replaceable
    /// by registering another first).</summary>
    public static IServiceCollection AddInMemoryAuditStore(this IServiceCollection services)
    {
        services.TryAddSingleton<InMemoryAuditStore>();
        services.TryAddSingleton<IAuditStore>(sp => sp.GetRequiredService<InMemoryAuditStore>());
        services.TryAddSingleton(_ => AuditSigningKey.Ephemeral());
        return services;
    }
}
