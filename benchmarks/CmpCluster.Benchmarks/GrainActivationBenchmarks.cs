extern alias silo;

using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using silo::CmpCluster.Silo.Storage;

namespace CmpCluster.Benchmarks;

/// <summary>
/// What a grain call, an activation and a state write cost in an in-process Orleans silo with the node's SQLite grain
/// storage (a temporary directory): the prices of the per-enrollment grain work. <see cref="Callers"/> concurrent callers
/// make <see cref="OperationsPerInvocation"/> calls in all, from outside any grain (as the node's gateway calls the
/// transaction grain). Mean is µs per call; run the process on one core (<c>taskset -c 0</c>) and the mean is the CPU a
/// call costs on a saturated core. GlobalCleanup prints the process CPU time per call (all threads).
/// </summary>
/// <remarks>
/// dotnet run -c Release --project benchmarks/CmpCluster.Benchmarks -- --filter '*GrainActivationBenchmarks*'
/// </remarks>
[Config(typeof(Configuration))]
public class GrainActivationBenchmarks
{
    private const int OperationsPerInvocation = 2048;
    private const int Callers = 16;
    private string _directory = "";
    private Microsoft.Extensions.Hosting.IHost _host = null!;
    private IGrainFactory _grains = null!;
    private string[] _resident = [];
    private long _next;
    private TimeSpan _cpuAtStart;
    private long _calls;

    private sealed class Configuration : ManualConfig
    {
        public Configuration() => AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
            .WithStrategy(RunStrategy.Monitoring).WithWarmupCount(3).WithIterationCount(8));
    }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("grain-activation-bench-").FullName;
        _host = Host.CreateDefaultBuilder()
            .ConfigureLogging(logging => logging.ClearProviders())
            .UseOrleans(silo => silo
                .UseLocalhostClustering(siloPort: FreePort(), gatewayPort: FreePort())
                .AddSqliteGrainStorage("probe", options => options.DataDirectory = _directory))
            .Build();
        _host.Start();
        _grains = _host.Services.GetRequiredService<IGrainFactory>();
        _resident = [.. Enumerable.Range(0, Callers).Select(i => $"resident-{i}")];
        Task.WhenAll(_resident.Select(key => _grains.GetGrain<IStatefulProbeGrain>(key).WriteAsync(leave: false))).GetAwaiter().GetResult();
    }

    [IterationSetup]
    public void StartCounting()
    {
        _cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        _calls = 0;
    }

    [IterationCleanup]
    public void StopCounting()
    {
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart).TotalMicroseconds;
        Console.WriteLine($"// process CPU per call: {cpu / _calls:F1} µs ({_calls} calls)");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _host.StopAsync().GetAwaiter().GetResult();
        _host.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A call to an activation that stays: the floor of any grain call.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = OperationsPerInvocation)]
    public Task ResidentCall() => Run(caller => _grains.GetGrain<IStatefulProbeGrain>(_resident[caller]).TouchAsync(leave: false));

    /// <summary>A call to a resident activation that writes its state (one SQLite upsert in a group commit).</summary>
    [Benchmark(OperationsPerInvoke = OperationsPerInvocation)]
    public Task ResidentWrite() => Run(caller => _grains.GetGrain<IStatefulProbeGrain>(_resident[caller]).WriteAsync(leave: false));

    /// <summary>A new activation of a grain without state, which leaves at once (DeactivateOnIdle).</summary>
    [Benchmark(OperationsPerInvoke = OperationsPerInvocation)]
    public Task NewStatelessActivation() => Run(_ => _grains.GetGrain<IStatelessProbeGrain>(NextKey()).TouchAsync(leave: true));

    /// <summary>A new activation that reads its state (a miss) and leaves at once.</summary>
    [Benchmark(OperationsPerInvoke = OperationsPerInvocation)]
    public Task NewStatefulActivation() => Run(_ => _grains.GetGrain<IStatefulProbeGrain>(NextKey()).TouchAsync(leave: true));

    /// <summary>A new activation that reads its state (a miss), writes it once and leaves: a certificate or end entity touched once.</summary>
    [Benchmark(OperationsPerInvoke = OperationsPerInvocation)]
    public Task NewActivationWithWrite() => Run(_ => _grains.GetGrain<IStatefulProbeGrain>(NextKey()).WriteAsync(leave: true));

    /// <summary>As <see cref="NewStatefulActivation"/>, the state read through <c>StoredState</c> (grains/Storage/StoredState.cs) in OnActivateAsync, as the transaction, certificate and end-entity grains do.</summary>
    [Benchmark(OperationsPerInvoke = OperationsPerInvocation)]
    public Task NewActivationWithStoredState() => Run(_ => _grains.GetGrain<IStoredProbeGrain>(NextKey()).TouchAsync(write: false));

    /// <summary>As <see cref="NewActivationWithWrite"/>, through <c>StoredState</c>.</summary>
    [Benchmark(OperationsPerInvoke = OperationsPerInvocation)]
    public Task NewActivationWithStoredStateWrite() => Run(_ => _grains.GetGrain<IStoredProbeGrain>(NextKey()).TouchAsync(write: true));

    private string NextKey() => "probe-" + Interlocked.Increment(ref _next).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private async Task Run(Func<int, Task<int>> call)
    {
        int perCaller = OperationsPerInvocation / Callers;
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(async caller =>
        {
            for (int i = 0; i < perCaller; i++)
            {
                await call(caller);
            }
        }));
        Interlocked.Add(ref _calls, OperationsPerInvocation);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public interface IStatelessProbeGrain : IGrainWithStringKey
{
    Task<int> TouchAsync(bool leave);
}

public interface IStatefulProbeGrain : IGrainWithStringKey
{
    Task<int> TouchAsync(bool leave);

    Task<int> WriteAsync(bool leave);
}

public interface IStoredProbeGrain : IGrainWithStringKey
{
    /// <summary>With <paramref name="write"/>: writes the state once, then leaves; without: only leaves.</summary>
    Task<int> TouchAsync(bool write);
}

public sealed class StoredProbeGrain([FromKeyedServices("probe")] Orleans.Storage.IGrainStorage store, IGrainContext context) : Grain, IStoredProbeGrain
{
    private readonly CmpCluster.Grains.Storage.StoredState<ProbeState> _state = new(store, "probe", context.GrainId);

    public override Task OnActivateAsync(CancellationToken cancellationToken) => _state.ReadStateAsync();

    public async Task<int> TouchAsync(bool write)
    {
        if (write)
        {
            _state.State.Count++;
            await _state.WriteStateAsync();
        }
        DeactivateOnIdle();
        return _state.State.Count;
    }
}

public sealed class StatelessProbeGrain : Grain, IStatelessProbeGrain
{
    public Task<int> TouchAsync(bool leave)
    {
        if (leave)
        {
            DeactivateOnIdle();
        }
        return Task.FromResult(1);
    }
}

[GenerateSerializer]
public sealed class ProbeState
{
    [Id(0)] public int Count { get; set; }

    /// <summary>About the size of a certificate record.</summary>
    [Id(1)] public byte[] Payload { get; set; } = new byte[1200];
}

public sealed class StatefulProbeGrain([PersistentState("probe", "probe")] IPersistentState<ProbeState> state) : Grain, IStatefulProbeGrain
{
    public Task<int> TouchAsync(bool leave)
    {
        if (leave)
        {
            DeactivateOnIdle();
        }
        return Task.FromResult(state.State.Count);
    }

    public async Task<int> WriteAsync(bool leave)
    {
        state.State.Count++;
        await state.WriteStateAsync();
        if (leave)
        {
            DeactivateOnIdle();
        }
        return state.State.Count;
    }
}
