using System.Reflection;
using Orleans;

namespace CmpCluster.Fuzz.Harness;

/// <summary>
/// Thrown by every grain method of <see cref="NoClusterGrainFactory"/>: the code under test got as far as a call into the
/// cluster. The harness stops there; what a grain would answer is outside the parsers being fuzzed.
/// </summary>
public sealed class GrainCallReached(Type grain, string method, object?[]? arguments)
    : Exception($"grain call {grain.Name}.{method}")
{
    public Type Grain { get; } = grain;
    public string Method { get; } = method;
    public object?[] Arguments { get; } = arguments ?? [];
}

/// <summary>
/// An <see cref="IGrainFactory"/> without a cluster: <c>GetGrain</c> hands out a proxy whose every method throws
/// <see cref="GrainCallReached"/>. Lets the product's handlers run on fuzzed input up to their first grain call.
/// </summary>
public class NoClusterGrainFactory : DispatchProxy
{
    public static IGrainFactory Create() => DispatchProxy.Create<IGrainFactory, NoClusterGrainFactory>();

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.Name == nameof(IGrainFactory.GetGrain) && targetMethod.ReturnType.IsInterface)
        {
            object proxy = DispatchProxy.Create(targetMethod.ReturnType, typeof(GrainStub));
            ((GrainStub)proxy).Interface = targetMethod.ReturnType;
            return proxy;
        }
        throw new NotSupportedException($"IGrainFactory.{targetMethod.Name} is not available without a cluster");
    }
}

/// <summary>The grain reference <see cref="NoClusterGrainFactory"/> hands out.</summary>
public class GrainStub : DispatchProxy
{
    public Type Interface { get; set; } = typeof(object);

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        throw new GrainCallReached(Interface, targetMethod?.Name ?? "?", args);
}
