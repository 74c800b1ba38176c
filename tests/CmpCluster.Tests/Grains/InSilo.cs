using System.Collections.Concurrent;
using System.Reflection;
using Orleans;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Silo-internal grain interfaces refuse callers that are not grains (InternalCallFilter), the test client included. Tests
/// of the in-process cluster reach them through <see cref="InSilo"/>: every call of a proxy it hands out runs inside a
/// relay grain of this test assembly, so the internal grain sees a grain as its caller, as in production. Works only
/// in-process: the relay finds the call to make in a static table of this process.
/// </summary>
public sealed class InSilo(IClusterClient client)
{
    private static readonly ConcurrentDictionary<Guid, Func<IGrainFactory, Task>> Work = new();

    /// <summary>A reference to an internal grain whose calls are made from inside the silo.</summary>
    public T GetGrain<T>(string key) where T : IGrainWithStringKey
    {
        T proxy = DispatchProxy.Create<T, RelayProxy>();
        var relay = (RelayProxy)(object)proxy!;
        relay.Client = client;
        relay.Target = factory => factory.GetGrain(typeof(T), key);
        return proxy;
    }

    /// <summary>Runs <paramref name="work"/> inside a relay grain and returns its result.</summary>
    public async Task<TResult> RunAsync<TResult>(Func<IGrainFactory, Task<TResult>> work)
    {
        TResult result = default!;
        // A statement body: an expression body returns Task<TResult> and would call this overload again.
        await RunAsync(async factory => { result = await work(factory); });
        return result;
    }

    public Task RunAsync(Func<IGrainFactory, Task> work) => Relay(client, work);

    private static async Task Relay(IClusterClient client, Func<IGrainFactory, Task> work)
    {
        Guid id = Guid.NewGuid();
        Work[id] = work;
        try
        {
            await client.GetGrain<IInSiloRelayGrain>(id).RunAsync();
        }
        finally
        {
            Work.TryRemove(id, out _);
        }
    }

    /// <summary>Runs the relayed work with the relay grain's own factory, so its calls leave from a grain.</summary>
    public sealed class RelayGrain : Grain, IInSiloRelayGrain
    {
        public Task RunAsync() => Work.TryGetValue(this.GetPrimaryKey(), out Func<IGrainFactory, Task>? work)
            ? work(GrainFactory)
            : throw new InvalidOperationException("no relayed work: InSilo works only with the in-process test cluster");
    }

    public class RelayProxy : DispatchProxy
    {
        private static readonly MethodInfo TypedRelay = typeof(RelayProxy).GetMethod(nameof(RelayTyped), BindingFlags.NonPublic | BindingFlags.Static)!;

        internal IClusterClient Client { get; set; } = null!;

        internal Func<IGrainFactory, IGrain> Target { get; set; } = null!;

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(method);
            Func<IGrainFactory, IGrain> target = Target;
            Task Call(IGrainFactory factory) => (Task)method.Invoke(target(factory), args)!;
            return method.ReturnType.IsGenericType
                ? TypedRelay.MakeGenericMethod(method.ReturnType.GetGenericArguments()[0]).Invoke(null, [Client, (Func<IGrainFactory, Task>)Call])
                : Relay(Client, Call);
        }

        private static async Task<TResult> RelayTyped<TResult>(IClusterClient client, Func<IGrainFactory, Task> call)
        {
            TResult result = default!;
            await Relay(client, async factory => result = await (Task<TResult>)call(factory));
            return result;
        }
    }
}

public interface IInSiloRelayGrain : IGrainWithGuidKey
{
    Task RunAsync();
}
