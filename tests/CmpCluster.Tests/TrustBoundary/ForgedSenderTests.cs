using System.Reflection;
using CmpCluster.Grains.Internal;
using CmpCluster.Tests.Grains;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization.Invocation;
using Xunit;

namespace CmpCluster.Tests.TrustBoundary;

/// <summary>
/// Orleans' gateway forwards a client's message with whatever sending grain id the client wrote into it. A process with a
/// gateway's cluster certificate could therefore claim to be a grain. The silo-internal interfaces also demand the silos'
/// token (derived from the CA key, which gateways never hold), so such a claim alone gets nowhere.
/// </summary>
public sealed class ForgedSenderTests
{
    private static readonly SiloCallToken Token = new(TestPki.KeyRing);
    private static readonly MethodInfo Internal = typeof(ICertificateGrain).GetMethod(nameof(ICertificateGrain.IssueAsync))!;
    private static readonly GrainId AGrain = GrainId.Create("cmptransaction", "ra/00");

    [Fact]
    public async Task A_call_that_names_a_grain_as_sender_without_the_silo_token_is_refused()
    {
        var call = new FakeCall(Internal, AGrain);
        var filter = new InternalCallFilter(Token, NullLogger<InternalCallFilter>.Instance);

        await Assert.ThrowsAsync<InternalInterfaceException>(() => filter.Invoke(call));

        Assert.False(call.Invoked);
    }

    [Fact]
    public async Task A_wrong_token_is_refused_too()
    {
        var call = new FakeCall(Internal, AGrain);
        var filter = new InternalCallFilter(Token, NullLogger<InternalCallFilter>.Instance);
        RequestContext.Set(SiloCallToken.Key, Convert.ToBase64String(new byte[32]));
        try
        {
            await Assert.ThrowsAsync<InternalInterfaceException>(() => filter.Invoke(call));
        }
        finally
        {
            RequestContext.Clear();
        }
        Assert.False(call.Invoked);
    }

    [Fact]
    public async Task A_grain_call_with_the_silo_token_passes()
    {
        var call = new FakeCall(Internal, AGrain);
        var filter = new InternalCallFilter(Token, NullLogger<InternalCallFilter>.Instance);
        RequestContext.Set(SiloCallToken.Key, Token.Value);
        try
        {
            await filter.Invoke(call);
        }
        finally
        {
            RequestContext.Clear();
        }
        Assert.True(call.Invoked);
    }

    [Fact]
    public void The_token_is_the_same_for_every_silo_with_the_key_ring_and_not_the_key()
    {
        Assert.Equal(Token.Value, new SiloCallToken(TestPki.KeyRing).Value);
        Assert.Equal(32, Convert.FromBase64String(Token.Value).Length);
    }

    /// <summary>Just enough of a call for the filter: the interface method and the sender.</summary>
    private sealed class FakeCall(MethodInfo method, GrainId source) : IIncomingGrainCallContext
    {
        public bool Invoked { get; private set; }
        public MethodInfo InterfaceMethod => method;
        public GrainId? SourceId => source;
        public Task Invoke()
        {
            Invoked = true;
            return Task.CompletedTask;
        }

        public IGrainContext TargetContext => throw new NotSupportedException();
        public MethodInfo ImplementationMethod => method;
        public object Grain => throw new NotSupportedException();
        public IInvokable Request => throw new NotSupportedException();
        public GrainId TargetId => AGrain;
        public GrainInterfaceType InterfaceType => default;
        public string InterfaceName => method.DeclaringType!.Name;
        public string MethodName => method.Name;
        public object? Result { get; set; }
        public Response? Response { get; set; }
    }
}
