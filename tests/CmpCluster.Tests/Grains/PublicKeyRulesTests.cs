using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Xunit;
using BigInteger = Org.BouncyCastle.Math.BigInteger;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Every public key is validated before it is certified, whatever the POP: on an alias that takes an RA's word
/// (raVerified), a key no signature used is still checked: on its curve, well encoded, RSA numbers that make a key.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class PublicKeyRulesTests(CmpClusterFixture cluster)
{
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    private static SubjectPublicKeyInfo Ec(byte[] point) =>
        new(new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, X9ObjectIdentifiers.Prime256v1), point);

    private static SubjectPublicKeyInfo Rsa(BigInteger modulus, BigInteger exponent) =>
        new(new AlgorithmIdentifier(PkcsObjectIdentifiers.RsaEncryption, DerNull.Instance), new RsaPublicKeyStructure(modulus, exponent));

    private static BigInteger ValidModulus()
    {
        using var rsa = RSA.Create(2048);
        return new BigInteger(1, rsa.ExportParameters(false).Modulus);
    }

    /// <summary>Each key in its own transaction.</summary>
    private async Task AssertRefusedAsync(SubjectPublicKeyInfo key, string? because = null)
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        Exchange error = await cluster.SendAsync(Aliases.RaVerified, session,
            session.BuildRaVerifiedEnrollment(new X509Name($"CN=key-{Guid.NewGuid():N}"), key));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadCertTemplate);
        if (because is not null)
        {
            Assert.Contains(because, error.View.Status!.StatusString?[0].GetString() ?? "");
        }
        Assert.Empty((await cluster.SnapshotAsync(Aliases.RaVerified, session)).CertificateKeys);
    }

    [Fact]
    public async Task An_ec_point_off_its_curve_is_badCertTemplate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        ECParameters parameters = key.ExportParameters(false);
        parameters.Q.Y![^1] ^= 0x01; // (x, y') with y' != ±y is not on P-256
        await AssertRefusedAsync(Ec([0x04, .. parameters.Q.X!, .. parameters.Q.Y]), because: "not a point on its curve");
    }

    [Fact]
    public async Task A_truncated_ec_point_is_badCertTemplate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await AssertRefusedAsync(Ec(key.ExportSubjectPublicKeyInfo()[^40..]));
    }

    /// <summary>RFC 9483 §4.1.6: a key with an empty BIT STRING asks the CA to generate the key; this alias does not.</summary>
    [Fact]
    public async Task An_empty_ec_point_asks_for_a_server_generated_key_and_is_badRequest_here()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        Exchange error = await cluster.SendAsync(Aliases.RaVerified, session,
            session.BuildRaVerifiedEnrollment(new X509Name($"CN=key-empty-{Guid.NewGuid():N}"), Ec([])));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadRequest);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.RaVerified, session)).CertificateKeys);
    }

    [Fact]
    public async Task Rsa_keys_with_an_even_exponent_an_exponent_of_1_or_an_even_modulus_are_badCertTemplate()
    {
        BigInteger modulus = ValidModulus();
        await AssertRefusedAsync(Rsa(modulus, BigInteger.ValueOf(65536)));
        await AssertRefusedAsync(Rsa(modulus, BigInteger.One));
        await AssertRefusedAsync(Rsa(modulus.ClearBit(0), BigInteger.ValueOf(65537)));
    }

    [Fact]
    public async Task A_valid_key_on_the_word_of_the_ra_is_certified()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X509Name($"CN=key-ok-{Guid.NewGuid():N}");

        Exchange ip = await cluster.SendAsync(Aliases.RaVerified, _session,
            _session.BuildRaVerifiedEnrollment(subject, SubjectPublicKeyInfo.GetInstance(key.ExportSubjectPublicKeyInfo())));

        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(ProtocolAssert.Granted(ip.View, PkiBodyType.Ip), cluster.Ca), subject, key.ExportSubjectPublicKeyInfo());
    }
}
