using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Policy;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Policy;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>A plug-in loaded from an assembly by name (this test assembly): allows common names with a configured suffix.</summary>
public sealed class CommonNameSuffixPolicy(IReadOnlyDictionary<string, string?> settings) : IEnrollmentPolicy
{
    private readonly string _suffix = settings["Suffix"] ?? throw new ArgumentException("Suffix is required");

    public Task<PolicyVerdict> EvaluateAsync(EnrollmentContext context, CancellationToken cancellationToken) =>
        Task.FromResult(context.Subject.GetValueList(X509Name.CN).Any(cn => cn.EndsWith(_suffix, StringComparison.Ordinal))
            ? PolicyVerdict.Allow
            : PolicyVerdict.Refuse(PkiFailureInfo.BadCertTemplate, $"the common name must end with {_suffix}"));
}

/// <summary>
/// A plug-in that adjusts by the requested common name's suffix: "-adjust" gets the operator's O, a DNS name and a
/// two-day validity; "-email" an e-mail name (which the alias's profile does not take); "-long" a ten-year notAfter.
/// </summary>
public sealed class AdjustingPolicy : IEnrollmentPolicy
{
    public Task<PolicyVerdict> EvaluateAsync(EnrollmentContext context, CancellationToken cancellationToken)
    {
        string cn = context.Subject.GetValueList(X509Name.CN).Single();
        return Task.FromResult(cn switch
        {
            _ when cn.EndsWith("-adjust", StringComparison.Ordinal) => PolicyVerdict.Adjust(new TemplateAdjustment
            {
                Subject = new X509Name($"CN={cn},O=Operator"),
                SubjectAltNames = new GeneralNames(new GeneralName(GeneralName.DnsName, cn + ".gnb.example")),
                NotAfter = DateTimeOffset.UtcNow.AddDays(2),
            }),
            _ when cn.EndsWith("-email", StringComparison.Ordinal) => PolicyVerdict.Adjust(new TemplateAdjustment
            {
                SubjectAltNames = new GeneralNames(new GeneralName(GeneralName.Rfc822Name, "ops@example.com")),
            }),
            _ when cn.EndsWith("-long", StringComparison.Ordinal) => PolicyVerdict.Adjust(new TemplateAdjustment { NotAfter = DateTimeOffset.UtcNow.AddYears(10) }),
            _ => PolicyVerdict.Allow,
        });
    }
}

/// <summary>A plug-in that never decides: the engine's timeout answers for it.</summary>
public sealed class NeverDecidingPolicy : IEnrollmentPolicy
{
    public async Task<PolicyVerdict> EvaluateAsync(EnrollmentContext context, CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return PolicyVerdict.Allow;
    }
}

/// <summary>
/// Request-handler plug-ins (protocol/Policy/IEnrollmentPolicy.cs): called after authentication and checks, before
/// issuance; they allow, refuse with a failInfo, or defer into the polling of RFC 9483 §4.4. The shipped one is the
/// device inventory a 3GPP operator keeps (grains/Policy/DeviceInventoryPolicy.cs).
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class EnrollmentPolicyTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose() => _key.Dispose();

    private static string NewDevice() => $"gnb-{Guid.NewGuid():N}";

    private static void List(string line) => File.AppendAllText(CmpClusterFixture.InventoryFile, line + "\n");

    private async Task<(CmpClientSession Session, Exchange Exchange)> EnrollAsync(string alias, string commonName)
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        Exchange exchange = await cluster.SendAsync(alias, session, session.BuildEnrollment(initial: true, new X509Name($"CN={commonName},O=Operator"), _key));
        return (session, exchange);
    }

    [Fact]
    public async Task A_device_in_the_inventory_enrolls_and_one_that_is_not_is_notAuthorized_with_nothing_issued()
    {
        string listed = NewDevice();
        List($"cn:{listed}");

        (_, Exchange granted) = await EnrollAsync(Aliases.Inventory, listed);
        (CmpClientSession refusedSession, Exchange refused) = await EnrollAsync(Aliases.Inventory, NewDevice());

        ProtocolAssert.Granted(granted.View, PkiBodyType.Ip);
        ProtocolAssert.Rejected(refused.View, PkiFailureInfo.NotAuthorized);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.Inventory, refusedSession)).CertificateKeys);
    }

    [Fact]
    public async Task The_inventory_is_read_again_when_it_changes_so_a_device_added_later_enrolls_without_a_restart()
    {
        string device = NewDevice();
        ProtocolAssert.Rejected((await EnrollAsync(Aliases.Inventory, device)).Exchange.View, PkiFailureInfo.NotAuthorized);

        List($"subject:O=Operator,CN={device}"); // RDN order does not matter

        ProtocolAssert.Granted((await EnrollAsync(Aliases.Inventory, device)).Exchange.View, PkiBodyType.Ip);
    }

    [Fact]
    public async Task An_unlisted_device_waits_polls_and_is_issued_once_it_is_listed()
    {
        string device = NewDevice();
        (CmpClientSession session, Exchange waiting) = await EnrollAsync(Aliases.InventoryDefer, device);
        Assert.Equal((int)Org.BouncyCastle.Asn1.Cmp.PkiStatus.Waiting, waiting.View.Status!.Status.IntValueExact);

        Exchange stillWaiting = await cluster.SendAsync(Aliases.InventoryDefer, session, session.BuildPollReq());
        Assert.Equal(PkiBodyType.PollRep, stillWaiting.View.BodyType);

        List($"cn:{device}");
        Exchange ip = await cluster.SendAsync(Aliases.InventoryDefer, session, session.BuildPollReq());

        byte[] der = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Exchange conf = await cluster.SendAsync(Aliases.InventoryDefer, session, session.BuildCertConf(der));
        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
    }

    [Fact]
    public async Task A_plug_in_loaded_from_an_assembly_decides_with_its_own_settings()
    {
        ProtocolAssert.Granted((await EnrollAsync(Aliases.CustomPolicy, NewDevice() + "-allowed")).Exchange.View, PkiBodyType.Ip);
        ProtocolAssert.Rejected((await EnrollAsync(Aliases.CustomPolicy, NewDevice())).Exchange.View, PkiFailureInfo.BadCertTemplate);
    }

    [Fact]
    public async Task A_plug_in_that_does_not_decide_in_time_is_systemUnavail_and_nothing_is_issued()
    {
        (CmpClientSession session, Exchange error) = await EnrollAsync(Aliases.SlowPolicy, NewDevice());

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.SystemUnavail);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.SlowPolicy, session)).CertificateKeys);
    }

    [Fact]
    public async Task The_inventory_matches_vendor_certificate_serials_and_ignores_comments()
    {
        string file = Path.Combine(Path.GetTempPath(), $"inventory-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, "# cn:commented-out\nserial:00:0A:1b\n");
        try
        {
            var policy = new DeviceInventoryPolicy(file, deferUnknown: false);
            EnrollmentContext Context(string cn, string? serial) => new("ra", "ra:test", PkiBodyType.Ir, new X509Name($"CN={cn}"),
                SubjectPublicKeyInfo.GetInstance(_key.ExportSubjectPublicKeyInfo()), null, "default", "ra/00", serial);

            Assert.IsType<PolicyVerdict.Allowed>(await policy.EvaluateAsync(Context("any", "A1B"), default));
            Assert.IsType<PolicyVerdict.Refused>(await policy.EvaluateAsync(Context("commented-out", null), default));
            Assert.IsType<PolicyVerdict.Refused>(await policy.EvaluateAsync(Context("any", "A1C"), default));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static X509CertificateStructure Issued(Exchange exchange) => X509CertificateStructure.GetInstance(exchange.View.CertificateDer!);

    [Fact]
    public async Task A_plug_in_adjusts_subject_names_and_validity_within_the_profile_and_the_answer_is_grantedWithMods()
    {
        string cn = NewDevice() + "-adjust";
        CmpClientSession session = CmpClusterFixture.NewSession();

        Exchange ip = await cluster.SendAsync(Aliases.AdjustingPolicy, session,
            session.BuildEnrollment(initial: true, new X509Name($"CN={cn},O=Someone"), _key));

        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
        Assert.Equal((int)Org.BouncyCastle.Asn1.Cmp.PkiStatus.GrantedWithMods, ip.View.Status!.Status.IntValueExact);
        X509CertificateStructure certificate = Issued(ip);
        Assert.True(certificate.Subject.Equivalent(new X509Name($"CN={cn},O=Operator")), certificate.Subject.ToString());
        Assert.Equal([new GeneralName(GeneralName.DnsName, cn + ".gnb.example")],
            GeneralNames.GetInstance(certificate.TbsCertificate.Extensions.GetExtension(X509Extensions.SubjectAlternativeName).GetParsedValue()).GetNames());
        Assert.InRange(certificate.EndDate.ToDateTime().ToUniversalTime(), DateTime.UtcNow.AddDays(2).AddMinutes(-5), DateTime.UtcNow.AddDays(2).AddMinutes(1));
    }

    [Fact]
    public async Task A_plug_in_adjustment_outside_the_profile_refuses_the_request_and_a_long_validity_is_shortened()
    {
        (CmpClientSession emailSession, Exchange refused) = await EnrollAsync(Aliases.AdjustingPolicy, NewDevice() + "-email");
        (_, Exchange shortened) = await EnrollAsync(Aliases.AdjustingPolicy, NewDevice() + "-long");

        ProtocolAssert.Rejected(refused.View, PkiFailureInfo.BadCertTemplate);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.AdjustingPolicy, emailSession)).CertificateKeys);
        Assert.Equal((int)Org.BouncyCastle.Asn1.Cmp.PkiStatus.GrantedWithMods, shortened.View.Status!.Status.IntValueExact);
        // The profile's validity (365 days by default) is the longest a plug-in may give.
        Assert.InRange(Issued(shortened).EndDate.ToDateTime().ToUniversalTime(), DateTime.UtcNow.AddDays(365).AddMinutes(-5), DateTime.UtcNow.AddDays(365).AddMinutes(1));
    }
}
