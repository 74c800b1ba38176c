using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Parameter floors for MAC protection per alias (RFC 9481 §6.1, RFC 9483 §3.2) and the alias's messageTime window
/// (RFC 9483 §3.1). The alias <see cref="Aliases.StrictMac"/> takes at least 1000 iterations, HMAC-SHA256 over SHA-256, and
/// messageTime within 30 s; the plain alias keeps Cmp:Limits (100 .. 100 000 iterations, 10 minutes).
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class MacFloorTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose() => _key.Dispose();

    private async Task<Exchange> IrAsync(string alias, RequestOverrides overrides)
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        return await cluster.SendAsync(alias, session,
            session.BuildEnrollment(initial: true, new X509Name($"CN=mac-floor-{Guid.NewGuid():N}"), _key, implicitConfirm: true, overrides: overrides));
    }

    [Fact]
    public async Task Too_few_iterations_for_the_alias_are_badMessageCheck()
    {
        Exchange refused = await IrAsync(Aliases.StrictMac, new RequestOverrides { PbmIterations = 500 });
        ProtocolAssert.Rejected(refused.View, PkiFailureInfo.BadMessageCheck);

        // The same parameters are fine under the global floor.
        Exchange accepted = await IrAsync(Aliases.Pbe, new RequestOverrides { PbmIterations = 500 });
        Assert.Equal(PkiBodyType.Ip, accepted.View.BodyType);
    }

    [Fact]
    public async Task Enough_iterations_with_allowed_algorithms_are_accepted()
    {
        Exchange accepted = await IrAsync(Aliases.StrictMac, new RequestOverrides { PbmIterations = 2000 });
        Assert.Equal(PkiBodyType.Ip, accepted.View.BodyType);
    }

    [Fact]
    public async Task The_global_floor_refuses_fewer_than_100_iterations()
    {
        Exchange refused = await IrAsync(Aliases.Pbe, new RequestOverrides { PbmIterations = 99 });
        ProtocolAssert.Rejected(refused.View, PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task A_messageTime_outside_the_alias_window_is_badTime()
    {
        RequestOverrides minuteAgo = new() { PbmIterations = 2000, MessageTime = DateTimeOffset.UtcNow.AddSeconds(-60) };
        ProtocolAssert.Rejected((await IrAsync(Aliases.StrictMac, minuteAgo)).View, PkiFailureInfo.BadTime);
        Assert.Equal(PkiBodyType.Ip, (await IrAsync(Aliases.Pbe, minuteAgo)).View.BodyType);
    }
}
