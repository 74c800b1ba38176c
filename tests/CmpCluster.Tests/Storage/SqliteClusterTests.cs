using CmpCluster.Silo.Storage;
using Orleans;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using Xunit;

namespace CmpCluster.Tests.Storage;

public interface IPersistentCounterGrain : IGrainWithStringKey
{
    Task<int> Increment();

    Task<int> Get();

    Task<bool> HasReminder();

    Task Deactivate();
}

[GenerateSerializer]
public sealed class CounterState
{
    [Id(0)]
    public int Value { get; set; }
}

/// <summary>Keeps a counter in the default storage and registers a reminder on first use.</summary>
public sealed class PersistentCounterGrain(
    [PersistentState("counter")] IPersistentState<CounterState> counter) : Grain, IPersistentCounterGrain, IRemindable
{
    private const string ReminderName = "keep-alive";

    public async Task<int> Increment()
    {
        counter.State.Value++;
        await counter.WriteStateAsync();
        if (await this.GetReminder(ReminderName) is null)
        {
            await this.RegisterOrUpdateReminder(ReminderName, TimeSpan.FromHours(1), TimeSpan.FromHours(1));
        }

        return counter.State.Value;
    }

    public Task<int> Get() => Task.FromResult(counter.State.Value);

    public async Task<bool> HasReminder() => await this.GetReminder(ReminderName) is not null;

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;
}

public sealed class SqliteClusterTests : IDisposable
{
    private readonly TempDataDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private InProcessTestCluster BuildCluster(string serviceId)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = false;
        // Reminders are scoped by ServiceId, so a "restarted" deployment must keep it.
        builder.Options.ServiceId = serviceId;
        builder.ConfigureSilo((_, silo) => silo
            .AddSqliteGrainStorageAsDefault(o => o.DataDirectory = _dir.Path)
            .AddSqliteGrainStorage("named", o => o.DataDirectory = _dir.Path)
            .UseSqliteReminderService(o => o.DataDirectory = _dir.Path));
        return builder.Build();
    }

    [Fact]
    public async Task Grain_state_and_reminders_survive_deactivation_and_cluster_restart()
    {
        var serviceId = Guid.NewGuid().ToString("N");

        await using (var cluster = BuildCluster(serviceId))
        {
            await cluster.DeployAsync();

            // The silo resolved our provider as the default storage, with the serializer Orleans 10
            // registers by default (Newtonsoft-based JsonGrainStorageSerializer).
            var services = cluster.GetSiloServiceProvider();
            Assert.IsType<SqliteGrainStorage>(services.GetRequiredService<IGrainStorage>());
            Assert.IsType<SqliteGrainStorage>(services.GetRequiredKeyedService<IGrainStorage>("named"));
            Assert.IsType<SqliteReminderTable>(services.GetRequiredService<IReminderTable>());
            Assert.IsType<JsonGrainStorageSerializer>(
                services.GetRequiredService<IOptionsMonitor<SqliteStoreOptions>>().Get("Default").GrainStorageSerializer);

            var grain = cluster.Client.GetGrain<IPersistentCounterGrain>("c1");
            Assert.Equal(1, await grain.Increment());
            Assert.Equal(2, await grain.Increment());
            Assert.Equal(3, await grain.Increment());

            // A new activation reads the value back from SQLite.
            await grain.Deactivate();
            await cluster.WaitForDeactivationAsync(grain);
            Assert.Equal(3, await grain.Get());

            await cluster.StopAllSilosAsync();
        }

        // Shutdown disposed the providers, which closed the file: the last connection to close
        // checkpoints the WAL into the main file and deletes it.
        Assert.True(File.Exists(_dir.DatabasePath));
        Assert.False(File.Exists(_dir.DatabasePath + "-wal"));

        // Nothing survives in memory: a new silo process-equivalent opens the same file.
        await using (var cluster = BuildCluster(serviceId))
        {
            await cluster.DeployAsync();
            var grain = cluster.Client.GetGrain<IPersistentCounterGrain>("c1");
            Assert.Equal(3, await grain.Get());
            Assert.True(await grain.HasReminder());
            Assert.Equal(4, await grain.Increment());
            Assert.Equal(0, await cluster.Client.GetGrain<IPersistentCounterGrain>("c2").Get());
            await cluster.StopAllSilosAsync();
        }
    }
}
