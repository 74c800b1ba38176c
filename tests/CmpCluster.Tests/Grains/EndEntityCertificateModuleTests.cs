using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>EJBCA's CMP documentation, "EndEntityCertificate" in client mode: a confirmed, unrevoked certificate of the end entity authenticates it.</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class EndEntityCertificateModuleTests(CmpClusterFixture cluster)
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>Registers an end entity and enrolls it with its code; returns its name, subject and first certificate.</summary>
    private async Task<(string Username, X509Name Subject, byte[] Certificate)> EnrolledAsync()
    {
        string username = "eec-" + Guid.NewGuid().ToString("N")[..10];
        var subject = new X509Name($"CN={username},O=Example");
        await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username))
            .RegisterAsync(new EndEntityRegistration(subject.ToString(), [], "issuing", "default", "default", "code-" + username), replace: false);
        var session = new CmpClientSession("code-" + username, username);
        Exchange ip = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(true, subject, _key, implicitConfirm: true));
        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
        return (username, subject, ip.View.CertificateDer!);
    }

    private Task<Exchange> SignedCrAsync(X509Name subject, AsymmetricAlgorithm signingKey, byte[] certificate)
    {
        var session = new CmpClientSession("unused", "unused").SignWith(signingKey, certificate);
        return cluster.SendAsync(Aliases.ClientByCertificate, session,
            session.BuildEnrollment(false, subject, ECDsa.Create(ECCurve.NamedCurves.nistP256), implicitConfirm: true));
    }

    [Fact]
    public async Task The_end_entitys_own_certificate_gets_it_another_one_without_a_code()
    {
        (string username, X509Name subject, byte[] certificate) = await EnrolledAsync();

        Exchange cp = await SignedCrAsync(subject, _key, certificate);

        Assert.Equal(PkiBodyType.Cp, cp.View.BodyType);
        Assert.True(cp.View.VerifySignature(TestPki.KeyRing.FindAuthority("issuing")!.CmpSigner.CertificateDer));
        Assert.Equal(2, (await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).GetAsync())!.CertificateKeys.Count);
    }

    [Fact]
    public async Task A_revoked_signer_certificate_is_badRequest()
    {
        (string username, X509Name subject, byte[] certificate) = await EnrolledAsync();
        string key = (await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).GetAsync())!.CertificateKeys[0];
        await cluster.Internal.GetGrain<ICertificateGrain>(key).RevokeAsync(new RevocationRequest(RevocationReason.KeyCompromise, "test"));

        ProtocolAssert.Rejected((await SignedCrAsync(subject, _key, certificate)).View, PkiFailureInfo.BadRequest);
    }

    [Fact]
    public async Task A_signature_by_another_key_is_badMessageCheck()
    {
        (_, X509Name subject, byte[] certificate) = await EnrolledAsync();

        Exchange error = await SignedCrAsync(subject, ECDsa.Create(ECCurve.NamedCurves.nistP256), certificate);

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task Another_end_entitys_certificate_is_notAuthorized()
    {
        (_, X509Name subject, _) = await EnrolledAsync();
        (_, _, byte[] otherCertificate) = await EnrolledAsync();

        ProtocolAssert.Rejected((await SignedCrAsync(subject, _key, otherCertificate)).View, PkiFailureInfo.NotAuthorized);
    }

    [Fact]
    public async Task A_certificate_this_cluster_did_not_issue_is_badMessageCheck()
    {
        (_, X509Name subject, _) = await EnrolledAsync();
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=stranger", stranger, HashAlgorithmName.SHA256);
        byte[] selfSigned = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)).RawData;

        ProtocolAssert.Rejected((await SignedCrAsync(subject, stranger, selfSigned)).View, PkiFailureInfo.BadMessageCheck);
    }
}
