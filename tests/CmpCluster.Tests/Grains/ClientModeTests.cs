using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Client mode (EJBCA's CMP documentation: "Client Mode for CMP"): a pre-registered end entity proves its one-time enrollment code with
/// PasswordBasedMac (HMAC), a regToken control (RegTokenPwd) or a DN part (DnPartPwd); wrong user or code is notAuthorized.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class ClientModeTests(CmpClusterFixture cluster)
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private async Task<(string Username, string Code, string Subject)> RegisterAsync(string? subjectExtra = null)
    {
        string username = "dev-" + Guid.NewGuid().ToString("N")[..10];
        string code = "code-" + Guid.NewGuid().ToString("N")[..12];
        string subject = $"CN={username},O=Example{subjectExtra}";
        EndEntityView? view = await EndEntity(username).RegisterAsync(
            new EndEntityRegistration(subject, [], "issuing", "default", "default", code), replace: false);
        Assert.NotNull(view);
        Assert.Equal(EndEntityStatus.New, view.Status);
        return (username, code, subject);
    }

    private IEndEntityGrain EndEntity(string username) => cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username));

    [Fact]
    public async Task Hmac_with_the_enrollment_code_issues_confirms_and_consumes_the_code()
    {
        (string username, string code, string subject) = await RegisterAsync();
        var session = new CmpClientSession(code, username);

        Exchange ip = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(true, new X509Name(subject), _key));
        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
        Assert.True(session.VerifyMac(ip.Response), "the ip is not MAC-protected with the enrollment code");
        Assert.Equal(EndEntityStatus.Generated, (await EndEntity(username).GetAsync())!.Status);

        Exchange conf = await cluster.SendAsync(Aliases.Client, session, session.BuildCertConf(ip.View.CertificateDer!));
        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);

        EndEntityView view = (await EndEntity(username).GetAsync())!;
        string certificateKey = Assert.Single(view.CertificateKeys);
        CertificateRecord record = (await cluster.Internal.GetGrain<ICertificateGrain>(certificateKey).GetAsync())!;
        Assert.Equal(CertificateStatus.Confirmed, record.Status);
        Assert.Equal("ee:" + username, record.Intent.Owner);

        // One-time: the same code in a new transaction is refused.
        var again = new CmpClientSession(code, username);
        Exchange refused = await cluster.SendAsync(Aliases.Client, again, again.BuildEnrollment(true, new X509Name(subject), _key));
        ProtocolAssert.Rejected(refused.View, PkiFailureInfo.NotAuthorized);
    }

    [Fact]
    public async Task Wrong_code_is_notAuthorized_and_the_end_entity_stays_new()
    {
        (string username, _, string subject) = await RegisterAsync();
        var session = new CmpClientSession("not-the-code", username);

        Exchange error = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(true, new X509Name(subject), _key));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
        EndEntityView view = (await EndEntity(username).GetAsync())!;
        Assert.Equal(EndEntityStatus.New, view.Status);
        Assert.Empty(view.CertificateKeys);
        Assert.False(view.EnrollmentOpen);
    }

    [Fact]
    public async Task Unknown_user_is_notAuthorized()
    {
        var session = new CmpClientSession("whatever-code", "nobody");
        Exchange error = await cluster.SendAsync(Aliases.Client, session,
            session.BuildEnrollment(true, new X509Name($"CN=nobody-{Guid.NewGuid():N},O=Example"), _key));
        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
    }

    [Fact]
    public async Task A_subject_other_than_the_registered_one_is_refused_and_releases_the_end_entity()
    {
        (string username, string code, _) = await RegisterAsync();
        var session = new CmpClientSession(code, username);

        Exchange error = await cluster.SendAsync(Aliases.Client, session,
            session.BuildEnrollment(true, new X509Name($"CN={username},O=Someone Else"), _key));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadCertTemplate);
        EndEntityView view = (await EndEntity(username).GetAsync())!;
        Assert.Equal(EndEntityStatus.New, view.Status);
        Assert.False(view.EnrollmentOpen);
    }

    [Fact]
    public async Task RegTokenPwd_accepts_an_unprotected_request_with_the_code_in_a_regToken_control()
    {
        (string username, string code, string subject) = await RegisterAsync();
        var session = new CmpClientSession("unused", username);

        Exchange ip = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(
            true, new X509Name(subject), _key, overrides: new RequestOverrides { Unprotected = true }, regToken: code));
        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
        // No MAC was verified, so the response is signed by the CMP signer.
        Assert.True(ip.View.VerifySignature(TestPki.KeyRing.FindAuthority("issuing")!.CmpSigner.CertificateDer));

        Exchange conf = await cluster.SendAsync(Aliases.Client, session, session.BuildCertConf(ip.View.CertificateDer!,
            overrides: new RequestOverrides { Unprotected = true, RecipNonce = session.ServerNonce }));
        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
        Assert.Equal(EndEntityStatus.Generated, (await EndEntity(username).GetAsync())!.Status);
    }

    [Fact]
    public async Task RegTokenPwd_with_a_wrong_token_is_notAuthorized()
    {
        (string username, _, string subject) = await RegisterAsync();
        var session = new CmpClientSession("unused", username);

        Exchange error = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(
            true, new X509Name(subject), _key, overrides: new RequestOverrides { Unprotected = true }, regToken: "wrong-token-value"));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.NotAuthorized);
    }

    [Fact]
    public async Task DnPartPwd_takes_the_code_from_the_UID_and_leaves_it_out_of_the_certificate()
    {
        (string username, string code, string subject) = await RegisterAsync();
        var session = new CmpClientSession("unused", username);

        Exchange ip = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(
            true, new X509Name($"{subject},UID={code}"), _key, overrides: new RequestOverrides { Unprotected = true }));

        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
        var certificate = X509CertificateStructure.GetInstance(ip.View.CertificateDer);
        Assert.True(certificate.Subject.Equivalent(new X509Name(subject), inOrder: false), certificate.Subject.ToString());
        Assert.DoesNotContain(code, certificate.Subject.ToString());
    }

    [Fact]
    public async Task An_unprotected_request_without_any_code_is_badMessageCheck()
    {
        (string username, _, string subject) = await RegisterAsync();
        var session = new CmpClientSession("unused", username);

        Exchange error = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(
            true, new X509Name(subject), _key, overrides: new RequestOverrides { Unprotected = true }));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadMessageCheck);
    }

    [Fact]
    public async Task A_reset_gives_a_new_code_and_status_new()
    {
        (string username, string code, string subject) = await RegisterAsync();
        var first = new CmpClientSession(code, username);
        Exchange ip = await cluster.SendAsync(Aliases.Client, first, first.BuildEnrollment(true, new X509Name(subject), _key, implicitConfirm: true));
        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);

        await EndEntity(username).ResetAsync("second-code-123");
        var second = new CmpClientSession("second-code-123", username);
        Exchange ip2 = await cluster.SendAsync(Aliases.Client, second, second.BuildEnrollment(true, new X509Name(subject), _key, implicitConfirm: true));

        Assert.Equal(PkiBodyType.Ip, ip2.View.BodyType);
        Assert.Equal(2, (await EndEntity(username).GetAsync())!.CertificateKeys.Count);
    }

    [Fact]
    public async Task The_registered_subject_alternative_names_go_into_the_certificate()
    {
        string username = "san-" + Guid.NewGuid().ToString("N")[..10];
        string subject = $"CN={username},O=Example";
        await EndEntity(username).RegisterAsync(new EndEntityRegistration(subject, ["dns:gnb.example.net", "ip:10.1.2.3"],
            "issuing", "default", "default", "code-" + username), replace: false);
        var session = new CmpClientSession("code-" + username, username);

        Exchange ip = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(true, new X509Name(subject), _key, implicitConfirm: true));

        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(ip.View.CertificateDer!);
        var names = certificate.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["gnb.example.net"], names.EnumerateDnsNames());
        Assert.Equal("10.1.2.3", Assert.Single(names.EnumerateIPAddresses()).ToString());
    }
}
