using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Tests.Grains;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Ocsp;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Ocsp;
using Org.BouncyCastle.X509;
using Xunit;
using CertificateStatus = CmpCluster.Contracts.CertificateStatus;
using static CmpCluster.Tests.Revocation.RevocationTestSupport;

namespace CmpCluster.Tests.Revocation;

/// <summary>RFC 6960: the OCSP responder answers from the certificate grains, signed by the delegated OCSP signer.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class OcspResponderTests(CmpClusterFixture cluster)
{
    private X509Certificate Issuer => new(cluster.Ca.Ca.Certificate);

    private CertificateID Id(string serialHex, string? hash = null) =>
        new(new AlgorithmIdentifier(new DerObjectIdentifier(hash ?? Org.BouncyCastle.Asn1.Oiw.OiwObjectIdentifiers.IdSha1.Id), DerNull.Instance), Issuer, new BigInteger(serialHex, 16));

    private static byte[] Request(byte[]? nonce, params CertificateID[] ids)
    {
        var generator = new OcspReqGenerator();
        foreach (CertificateID id in ids)
        {
            generator.AddRequest(id);
        }
        if (nonce is not null)
        {
            var extensions = new X509ExtensionsGenerator();
            extensions.AddExtension(OcspObjectIdentifiers.PkixOcspNonce, false, new DerOctetString(nonce));
            generator.SetRequestExtensions(extensions.Generate());
        }
        return generator.Generate().GetEncoded();
    }

    private async Task<OcspResp> AskAsync(byte[] request) =>
        new(await cluster.Client.GetGrain<IOcspResponderGrain>(GrainKeys.OcspResponder).RespondAsync(request));

    private async Task<(BasicOcspResp Basic, SingleResp Single)> AskOneAsync(CertificateID id, byte[]? nonce = null)
    {
        OcspResp response = await AskAsync(Request(nonce, id));
        Assert.Equal(OcspRespStatus.Successful, response.Status);
        var basic = (BasicOcspResp)response.GetResponseObject();
        return (basic, Assert.Single(basic.Responses));
    }

    [Fact]
    public async Task A_confirmed_certificate_is_good_in_a_response_signed_by_the_delegated_signer()
    {
        string serial = await IssueAsync(cluster);

        (BasicOcspResp basic, SingleResp single) = await AskOneAsync(Id(serial));

        Assert.Null(single.GetCertStatus()); // BouncyCastle's "good"
        Assert.True(single.GetCertID().MatchesIssuer(Issuer));
        Assert.Equal(new BigInteger(serial, 16), single.GetCertID().SerialNumber);
        X509Certificate signer = Assert.Single(basic.GetCerts());
        Assert.Equal(cluster.Ca.OcspSigner.CertificateDer, signer.GetEncoded());
        Assert.Contains("1.3.6.1.5.5.7.3.9", signer.GetExtendedKeyUsage().Select(o => o.Id));
        Assert.True(Verifies(cluster.Ca.OcspSigner, basic.GetTbsResponseData(), basic.GetSignature()), "response signature verifies");
        byte[] keyHash = SHA1.HashData(cluster.Ca.OcspSigner.Certificate.SubjectPublicKeyInfo.PublicKey.GetBytes());
        Assert.Equal(keyHash, Asn1OctetString.GetInstance(basic.ResponderId.ToAsn1Object().ToAsn1Object() is Asn1TaggedObject t ? t.GetExplicitBaseObject() : null).GetOctets());
        Assert.InRange(single.ThisUpdate, cluster.Clock.GetUtcNow().UtcDateTime.AddMinutes(-1), cluster.Clock.GetUtcNow().UtcDateTime.AddSeconds(1));
        Assert.Null(single.NextUpdate); // Pki:Ocsp:ResponseValidity unset
    }

    [Fact]
    public async Task A_revoked_certificate_is_revoked_with_its_time_and_reason()
    {
        string serial = await IssueAsync(cluster);
        await Certificate(cluster, serial).RevokeAsync(new RevocationRequest(RevocationReason.KeyCompromise, "test"));
        CertificateRecord record = (await Certificate(cluster, serial).GetAsync())!;

        (_, SingleResp single) = await AskOneAsync(Id(serial));

        RevokedStatus revoked = Assert.IsType<RevokedStatus>(single.GetCertStatus());
        Assert.Equal(WholeSeconds(record.RevokedAt!.Value).UtcDateTime, revoked.RevocationTime);
        Assert.True(revoked.HasRevocationReason);
        Assert.Equal(CrlReason.KeyCompromise, revoked.RevocationReason);
    }

    [Theory]
    [InlineData(CertificateStatus.Unknown)]
    [InlineData(CertificateStatus.AwaitingConfirmation)]
    public async Task A_serial_that_is_not_in_force_is_unknown_never_good(CertificateStatus status)
    {
        string serial = status == CertificateStatus.Unknown ? NewSerialHex() : await IssueAsync(cluster, status);

        (_, SingleResp single) = await AskOneAsync(Id(serial));

        Assert.IsType<UnknownStatus>(single.GetCertStatus());
    }

    [Fact]
    public async Task A_sha256_certid_is_recognized()
    {
        string serial = await IssueAsync(cluster);

        (_, SingleResp single) = await AskOneAsync(Id(serial, NistOids.Sha256));

        Assert.Null(single.GetCertStatus());
    }

    [Fact]
    public async Task A_foreign_issuer_is_unauthorized()
    {
        var foreign = new CertID(new AlgorithmIdentifier(Org.BouncyCastle.Asn1.Oiw.OiwObjectIdentifiers.IdSha1, DerNull.Instance),
            new DerOctetString(new byte[20]), new DerOctetString(new byte[20]), DerInteger.ValueOf(0x1234));

        OcspResp response = await AskAsync(Request(null, new CertificateID(foreign)));

        Assert.Equal(OcspRespStatus.Unauthorized, response.Status);
        Assert.Null(response.GetResponseObject());
    }

    [Fact]
    public async Task The_nonce_is_echoed()
    {
        byte[] nonce = RandomNumberGenerator.GetBytes(16);

        (BasicOcspResp basic, _) = await AskOneAsync(Id(NewSerialHex()), nonce);

        Asn1OctetString echoed = basic.GetExtensionValue(OcspObjectIdentifiers.PkixOcspNonce)!;
        Assert.Equal(new DerOctetString(nonce).GetEncoded(), echoed.GetOctets());
    }

    [Fact]
    public async Task A_nonce_longer_than_32_bytes_is_a_malformed_request()
    {
        OcspResp response = await AskAsync(Request(RandomNumberGenerator.GetBytes(33), Id(NewSerialHex())));

        Assert.Equal(OcspRespStatus.MalformedRequest, response.Status);
    }

    [Fact]
    public async Task Garbage_and_too_many_entries_are_malformed_requests()
    {
        OcspResp garbage = await AskAsync([0x30, 0x03, 0x02, 0x01]);
        OcspResp empty = await AskAsync([0x30, 0x00]);
        OcspResp tooMany = await AskAsync(Request(null, Enumerable.Range(0, 21).Select(_ => Id(NewSerialHex())).ToArray()));
        OcspResp twenty = await AskAsync(Request(null, Enumerable.Range(0, 20).Select(_ => Id(NewSerialHex())).ToArray()));

        Assert.Equal(OcspRespStatus.MalformedRequest, garbage.Status);
        Assert.Equal(OcspRespStatus.MalformedRequest, empty.Status);
        Assert.Equal(OcspRespStatus.MalformedRequest, tooMany.Status);
        Assert.Equal(OcspRespStatus.Successful, twenty.Status);
        Assert.Equal(20, ((BasicOcspResp)twenty.GetResponseObject()).Responses.Length);
    }

    private static class NistOids
    {
        public static readonly string Sha256 = Org.BouncyCastle.Asn1.Nist.NistObjectIdentifiers.IdSha256.Id;
    }
}
