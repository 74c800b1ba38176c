using System.Reflection;
using CmpCluster.Contracts;
using Xunit;

namespace CmpCluster.Tests.TrustBoundary;

/// <summary>
/// Two contracts, one door: the gateway builds against the gateway-facing interfaces only, and those are exactly the
/// CMP entry point, read-only lookups and the admin facade. A new grain interface in contracts/ must be added here on
/// purpose, after asking whether a gateway should be able to call it.
/// </summary>
public sealed class ContractBoundaryTests
{
    private static readonly string[] GatewayFacing =
    [
        nameof(ICmpTransactionGrain), nameof(ICmpRejectionGrain), nameof(ICrlGrain), nameof(IOcspResponderGrain),
        nameof(ICaDirectoryGrain), nameof(IAdminGrain), nameof(IAuditExportGrain),
        // Read-only: whether a CA's keys answer now (/health/ca/{name}); it signs nothing a caller gives.
        nameof(ICaHealthGrain),
    ];

    [Fact]
    public void The_gateway_does_not_reference_the_grains()
    {
        Assembly gateway = typeof(CmpCluster.Gateway.CmpDispatcher).Assembly;
        AssemblyName[] references = gateway.GetReferencedAssemblies();
        Assert.DoesNotContain(references, r => r.Name == typeof(CmpCluster.Grains.CmpGrainsServices).Assembly.GetName().Name);
        Assert.Contains(references, r => r.Name == typeof(ICmpTransactionGrain).Assembly.GetName().Name);
    }

    [Fact]
    public void Contracts_hold_only_the_gateway_facing_grain_interfaces()
    {
        string[] declared = typeof(ICmpTransactionGrain).Assembly.GetTypes()
            .Where(t => t.IsInterface && typeof(IGrain).IsAssignableFrom(t)).Select(t => t.Name).Order().ToArray();
        Assert.Equal(GatewayFacing.Order().ToArray(), declared);
    }

    [Fact]
    public void No_gateway_facing_method_takes_bytes_to_sign()
    {
        // The only byte[] inputs are a CMP message (inside CmpRequest) and an OCSP request: structures the silo parses and
        // answers, never bytes it signs as given.
        var takesBytes = typeof(ICmpTransactionGrain).Assembly.GetTypes()
            .Where(t => t.IsInterface && typeof(IGrain).IsAssignableFrom(t))
            .SelectMany(t => t.GetMethods())
            .Where(m => m.GetParameters().Any(p => p.ParameterType == typeof(byte[])))
            .Select(m => $"{m.DeclaringType!.Name}.{m.Name}")
            .ToArray();
        Assert.Equal([$"{nameof(IOcspResponderGrain)}.{nameof(IOcspResponderGrain.RespondAsync)}"], takesBytes);
    }

    [Fact]
    public void Every_grain_interface_of_the_silo_is_internal()
    {
        // Internal interfaces live in CmpCluster.Grains, where InternalCallFilter recognizes them.
        Type[] internals = typeof(CmpCluster.Grains.CmpGrainsServices).Assembly.GetTypes()
            .Where(t => t.IsInterface && typeof(IGrain).IsAssignableFrom(t)).ToArray();
        Assert.Contains(typeof(ICertificateGrain), internals);
        Assert.Contains(typeof(ITransactionControlGrain), internals);
        Assert.All(internals, t => Assert.Equal("CmpCluster.Grains.Internal", t.Namespace));
    }
}
