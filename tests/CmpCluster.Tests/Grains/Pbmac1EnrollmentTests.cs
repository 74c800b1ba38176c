using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Internal;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// PBMAC1 protection (RFC 9481 §6.1.2) wherever PasswordBasedMac is accepted: RA mode with the alias secret, client mode
/// with the enrollment code; the response is protected with the request's PBMAC1 parameters (RFC 9483 §3.2).
/// OpenSSL 3.0 cannot send PBMAC1, so the project's own client does.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class Pbmac1EnrollmentTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose() => _key.Dispose();

    private static bool ProtectedWithPbmac1(byte[] response) =>
        CmpResponseView.Parse(response).Message.Header.ProtectionAlg?.Algorithm.Equals(PkcsObjectIdentifiers.IdPbmac1) == true;

    [Fact]
    public async Task Ra_mode_ir_and_certConf_with_pbmac1_are_answered_under_pbmac1()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        session.UsePbmac1 = true;
        var subject = new X509Name($"CN=pbmac1-{Guid.NewGuid():N}");

        Exchange ip = await cluster.SendAsync(Aliases.Pbe, session, session.BuildEnrollment(initial: true, subject, _key));

        byte[] der = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(der, cluster.Ca), subject, _key.ExportSubjectPublicKeyInfo());
        Assert.True(ProtectedWithPbmac1(ip.Response));
        Assert.True(session.VerifyMac(ip.Response));

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, session, session.BuildCertConf(der));

        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
        Assert.True(ProtectedWithPbmac1(conf.Response));
        Assert.True(session.VerifyMac(conf.Response));
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, session)).Status);
    }

    [Fact]
    public async Task Pbmac1_with_the_wrong_secret_is_badMessageCheck_and_issues_nothing()
    {
        CmpClientSession session = CmpClusterFixture.NewSession("not-the-secret");
        session.UsePbmac1 = true;

        Exchange error = await cluster.SendAsync(Aliases.Pbe, session,
            session.BuildEnrollment(initial: true, new X509Name("CN=pbmac1-wrong"), _key));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.Pbe, session)).CertificateKeys);
    }

    [Fact]
    public async Task Pbmac1_below_the_alias_iteration_floor_is_badMessageCheck()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();

        Exchange error = await cluster.SendAsync(Aliases.Pbe, session, session.BuildEnrollment(initial: true, new X509Name("CN=pbmac1-weak"), _key,
            overrides: new RequestOverrides { MacAlgorithm = PasswordBasedMac.NewPbmac1Algorithm(iterations: 1) }));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task Client_mode_hmac_with_pbmac1_keyed_with_the_enrollment_code_issues()
    {
        string username = "pbmac1-" + Guid.NewGuid().ToString("N")[..10];
        string code = "code-" + Guid.NewGuid().ToString("N")[..12];
        string subject = $"CN={username},O=Example";
        Assert.NotNull(await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).RegisterAsync(
            new EndEntityRegistration(subject, [], "issuing", "default", "default", code), replace: false));
        var session = new CmpClientSession(code, username) { UsePbmac1 = true };

        Exchange ip = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(true, new X509Name(subject), _key));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.True(ProtectedWithPbmac1(ip.Response));
        Assert.True(session.VerifyMac(ip.Response));
    }
}
