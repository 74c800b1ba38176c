using CmpCluster.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Hosting;
using Orleans.Providers;
using Orleans.Runtime.Hosting;
using Orleans.Storage;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// Silo registration for the SQLite grain storage and reminder table.
/// </summary>
/// <remarks>
/// Follows Orleans' own conventions (as in AddMemoryGrainStorage / UseInMemoryReminderService):
/// <list type="bullet">
/// <item>Options are named after the provider, so several providers can be configured independently.</item>
/// <item>Grain storage goes through <see cref="StorageProviderExtensions.AddGrainStorage{T}"/>, which
/// registers a keyed <see cref="IGrainStorage"/> singleton under the provider name and, for the name
/// "Default", also the unkeyed <see cref="IGrainStorage"/> used by grains that name no provider.</item>
/// <item>The serializer post-configurator Orleans ships fills in
/// <see cref="SqliteStoreOptions.GrainStorageSerializer"/> from DI when the caller did not.</item>
/// <item>Reminders need the reminder service itself (<c>AddReminders()</c>) plus a singleton
/// <see cref="IReminderTable"/>.</item>
/// </list>
/// The container disposes the singletons at shutdown, which releases (and finally closes) the file.
/// </remarks>
public static class SqliteStorageSiloBuilderExtensions
{
    /// <summary>Options name under which <see cref="UseSqliteReminderService"/> stores its settings.</summary>
    public const string ReminderOptionsName = "SqliteReminders";

    /// <summary>
    /// Adds a SQLite grain storage provider named <paramref name="name"/>. Grains select it with
    /// <c>[PersistentState("state", "name")]</c>.
    /// </summary>
    public static ISiloBuilder AddSqliteGrainStorage(
        this ISiloBuilder builder, string name, Action<SqliteStoreOptions>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        builder.Services.AddSqliteGrainStorage(name, configureOptions);
        return builder;
    }

    /// <summary>Adds a SQLite grain storage provider as the silo's default storage.</summary>
    public static ISiloBuilder AddSqliteGrainStorageAsDefault(
        this ISiloBuilder builder, Action<SqliteStoreOptions>? configureOptions = null) =>
        builder.AddSqliteGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, configureOptions);

    /// <summary>
    /// Enables Orleans reminders with the reminder table stored in SQLite. Unless configured
    /// otherwise it uses the same file as the grain storage defaults.
    /// </summary>
    public static ISiloBuilder UseSqliteReminderService(
        this ISiloBuilder builder, Action<SqliteStoreOptions>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddReminders();
        builder.Services.UseSqliteReminderService(configureOptions);
        return builder;
    }

    /// <summary><see cref="IServiceCollection"/> form of <see cref="AddSqliteGrainStorage(ISiloBuilder, string, Action{SqliteStoreOptions}?)"/>.</summary>
    public static IServiceCollection AddSqliteGrainStorage(
        this IServiceCollection services, string name, Action<SqliteStoreOptions>? configureOptions = null)
    {
        var options = services.AddOptions<SqliteStoreOptions>(name);
        if (configureOptions is not null)
        {
            options.Configure(configureOptions);
        }

        AddSerializerDefaults(services);
        services.AddGrainStorage(name, SqliteGrainStorage.Create);
        // The same instance answers the deadline sweeper (due grains, expired states) for this provider.
        services.AddKeyedSingleton<IStateLifetimeIndex>(name, (sp, key) => (IStateLifetimeIndex)sp.GetRequiredKeyedService<IGrainStorage>(key));
        return services;
    }

    /// <summary>
    /// <see cref="IServiceCollection"/> form of <see cref="UseSqliteReminderService(ISiloBuilder, Action{SqliteStoreOptions}?)"/>;
    /// registers only the table, so callers must also enable reminders.
    /// </summary>
    public static IServiceCollection UseSqliteReminderService(
        this IServiceCollection services, Action<SqliteStoreOptions>? configureOptions = null)
    {
        var options = services.AddOptions<SqliteStoreOptions>(ReminderOptionsName);
        if (configureOptions is not null)
        {
            options.Configure(configureOptions);
        }

        AddSerializerDefaults(services);
        services.AddSingleton(SqliteReminderTable.Create);
        // Replace rather than add, so a reminder table registered earlier (e.g. in-memory) is not
        // left behind as a second, ignored IReminderTable registration.
        services.RemoveAll<IReminderTable>();
        services.AddSingleton<IReminderTable>(sp => sp.GetRequiredService<SqliteReminderTable>());
        return services;
    }

    // Fills SqliteStoreOptions.GrainStorageSerializer from DI (provider-keyed serializer first,
    // then the silo default), exactly as Orleans' built-in providers do. TryAddEnumerable keeps it
    // to one registration however many providers are added.
    private static void AddSerializerDefaults(IServiceCollection services) =>
        services.TryAddEnumerable(ServiceDescriptor.Transient<
            IPostConfigureOptions<SqliteStoreOptions>,
            DefaultStorageProviderSerializerOptionsConfigurator<SqliteStoreOptions>>());
}
