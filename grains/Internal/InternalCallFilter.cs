using CmpCluster.Grains.Telemetry;
using Microsoft.Extensions.Logging;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// The trust boundary at run time, on every silo. Grain interfaces come in two kinds: gateway-facing ones, declared in
/// CmpCluster.Contracts (the CMP entry point, read-only CRL/OCSP/CA lookups, the admin facade), and silo-internal ones,
/// declared here in CmpCluster.Grains (certificates, end entities, indexes, CA state, transaction control). A call to an
/// internal interface is refused unless it comes from a grain on a silo of this cluster: the sender must be a grain, and
/// the call must carry the silos' <see cref="SiloCallToken"/> (a client can write a grain id as sender, it cannot make the
/// token). An Orleans client (a standalone gateway, the gateway hosted in the node, any other process that reaches the
/// client port) or a system target never gets through.
/// </summary>
public sealed partial class InternalCallFilter(SiloCallToken token, ILogger<InternalCallFilter> logger) : IIncomingGrainCallFilter
{
    /// <summary>Where the silo-internal interfaces are declared (this assembly).</summary>
    internal static readonly System.Reflection.Assembly InternalContracts = typeof(InternalCallFilter).Assembly;

    public Task Invoke(IIncomingGrainCallContext context)
    {
        Type? declaring = context.InterfaceMethod?.DeclaringType;
        if (declaring is not null && declaring.Assembly == InternalContracts && !(IsGrain(context.SourceId) && token.Carried()))
        {
            string caller = context.SourceId?.ToString() ?? "(unknown)";
            GrainTelemetry.RefusedCalls.Add(1, new KeyValuePair<string, object?>("interface", declaring.Name));
            LogRefused(logger, declaring.Name, context.InterfaceMethod!.Name, caller);
            throw new InternalInterfaceException($"{declaring.Name}.{context.InterfaceMethod.Name} is internal to the silos");
        }
        return context.Invoke();
    }

    /// <summary>A grain activation: not an Orleans client (external or hosted in the silo) and not a system target.</summary>
    public static bool IsGrain(GrainId? source) =>
        source is { } id && !id.IsDefault && !GrainTypePrefix.IsClient(id) && !GrainTypePrefix.IsSystemTarget(id);

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "refused a call to silo-internal {Interface}.{Method} from {Caller}: callers outside the silos may use the gateway-facing interfaces only")]
    private static partial void LogRefused(ILogger logger, string @interface, string method, string caller);
}

/// <summary>What a client sees when it calls a silo-internal grain interface: the call fails, nothing ran.</summary>
[GenerateSerializer]
[Alias("CmpCluster.InternalInterfaceException")]
public sealed class InternalInterfaceException(string message) : Exception(message);
