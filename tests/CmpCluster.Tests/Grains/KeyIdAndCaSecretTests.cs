using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>EJBCA's CMP documentation, "KeyID" (the senderKID names the CA or profile) and "Using one authentication secret per CA".</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class KeyIdAndCaSecretTests(CmpClusterFixture cluster)
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private async Task<CmpResponseView> EnrollAsync(string alias, string secret, string senderKid)
    {
        var session = new CmpClientSession(secret, senderKid);
        Exchange exchange = await cluster.SendAsync(alias, session,
            session.BuildEnrollment(true, new X509Name($"CN=keyid-{Guid.NewGuid():N}"), _key, implicitConfirm: true));
        return exchange.View;
    }

    [Fact]
    public async Task The_ca_secret_authenticates_an_alias_without_its_own_secret()
    {
        Assert.Equal(PkiBodyType.Ip, (await EnrollAsync(Aliases.CaSecret, Aliases.CaRaSecret, "any-ra")).BodyType);
    }

    [Fact]
    public async Task Another_alias_secret_never_authenticates_here()
    {
        ProtocolAssert.Rejected(await EnrollAsync(Aliases.CaSecret, Aliases.Secret, "any-ra"), PkiFailureInfo.BadMessageCheck);
        ProtocolAssert.Rejected(await EnrollAsync(Aliases.Pbe, Aliases.CaRaSecret, "any-ra"), PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task KeyID_takes_the_ca_from_the_senderKID_and_an_unknown_ca_is_wrongAuthority()
    {
        CmpResponseView issued = await EnrollAsync(Aliases.KeyIdCa, Aliases.Secret, "issuing");
        Assert.Equal(PkiBodyType.Ip, issued.BodyType);

        ProtocolAssert.Rejected(await EnrollAsync(Aliases.KeyIdCa, Aliases.Secret, "no-such-ca"), PkiFailureInfo.WrongAuthority);
    }

    [Fact]
    public async Task KeyID_takes_the_profile_from_the_senderKID_and_an_unknown_profile_is_notAuthorized()
    {
        Assert.Equal(PkiBodyType.Ip, (await EnrollAsync(Aliases.KeyIdProfile, Aliases.Secret, "default")).BodyType);

        ProtocolAssert.Rejected(await EnrollAsync(Aliases.KeyIdProfile, Aliases.Secret, "no-such-profile"), PkiFailureInfo.NotAuthorized);
    }
}
