using Orleans.Storage;

namespace CmpCluster.Grains.Storage;

/// <summary>
/// A grain's persistent state, read and written straight through its store (the keyed <see cref="IGrainStorage"/> of the
/// provider), for the grains every enrollment activates anew: transaction, certificate, end entity. The grain reads it in
/// <c>OnActivateAsync</c>. Same contract as the state Orleans injects with <c>[PersistentState]</c> (state, ETag,
/// RecordExists, read/write/clear; a store failure other than an <see cref="OrleansException"/> such as an ETag conflict
/// arrives wrapped in one), without what that facet adds to every activation and operation: a lifecycle stage, a queue of
/// storage operations, a trace span and three storage metrics each. An activation that reads its state costs about a
/// quarter less CPU this way (benchmarks/CmpCluster.Benchmarks/GrainActivationBenchmarks.cs; docs/BENCHMARKS.md,
/// "2026-12-05 — what a grain activation costs, and two changes that pay for fewer of them").
/// </summary>
public sealed class StoredState<TState>(IGrainStorage store, string stateName, GrainId grainId) : IPersistentState<TState>
    where TState : new()
{
    private readonly GrainState<TState> _state = new(new TState());
    private bool _loaded;

    public TState State
    {
        get => _state.State ??= new TState();
        set => _state.State = value;
    }

    public string? Etag
    {
        get => _state.ETag;
        set => _state.ETag = value;
    }

    public bool RecordExists => _loaded ? _state.RecordExists : throw new InvalidOperationException("State has not yet been loaded");

    public async Task ReadStateAsync()
    {
        await Run(Operation.Read);
        _loaded = true;
    }

    public Task WriteStateAsync() => Run(Operation.Write);

    public Task ClearStateAsync() => Run(Operation.Clear);

    private enum Operation { Read, Write, Clear }

    /// <summary>One store operation; a failure thrown before its task exists is wrapped like one it completes with.</summary>
    private async Task Run(Operation operation)
    {
        try
        {
            await (operation switch
            {
                Operation.Read => store.ReadStateAsync(stateName, grainId, _state),
                Operation.Write => store.WriteStateAsync(stateName, grainId, _state),
                _ => store.ClearStateAsync(stateName, grainId, _state),
            });
        }
        catch (Exception e) when (e is not OrleansException and not OperationCanceledException)
        {
            throw new OrleansException($"the store failed to {operation.ToString().ToLowerInvariant()} state '{stateName}' of {grainId}", e);
        }
    }
}
