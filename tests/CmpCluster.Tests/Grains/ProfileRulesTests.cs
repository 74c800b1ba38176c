using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// Certificate profiles with rules: the key algorithms, curves and sizes a profile certifies; the validity a request may
/// choose up to a maximum; and grantedWithMods (RFC 9810 §5.2.3) whenever the certificate differs from what was asked.
/// The profiles are named by the senderKID on the fixture's KeyID alias (EJBCA's CMP documentation, "KeyID").
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class ProfileRulesTests(CmpClusterFixture cluster)
{
    private static CmpClientSession Session(string profile) => new(Aliases.Secret, profile);

    private async Task<Exchange> EnrollAsync(string profile, AsymmetricAlgorithm key, RequestOverrides? overrides = null)
    {
        CmpClientSession session = Session(profile);
        return await cluster.SendAsync(Aliases.KeyIdProfile, session,
            session.BuildEnrollment(initial: true, new X509Name($"CN=profile-{Guid.NewGuid():N}"), key, overrides: overrides));
    }

    private static int Status(Exchange exchange) => exchange.View.Status!.Status.IntValueExact;

    private static DateTimeOffset NotAfter(Exchange exchange) =>
        new(X509CertificateStructure.GetInstance(exchange.View.CertificateDer!).EndDate.ToDateTime().ToUniversalTime());

    private static RequestOverrides Validity(TimeSpan fromNow) => new()
    {
        TemplateValidity = new OptionalValidity(null, new Time(DateTime.UtcNow.Add(fromNow))),
    };

    [Fact]
    public async Task A_profile_for_ec_p384_refuses_p256_and_rsa_keys_and_certifies_p384()
    {
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsa = RSA.Create(2048);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        ProtocolAssert.Rejected((await EnrollAsync("ec-p384", p256)).View, PkiFailureInfo.BadCertTemplate);
        ProtocolAssert.Rejected((await EnrollAsync("ec-p384", rsa)).View, PkiFailureInfo.BadCertTemplate);
        ProtocolAssert.Granted((await EnrollAsync("ec-p384", p384)).View, PkiBodyType.Ip);
    }

    [Fact]
    public async Task A_validity_within_the_profiles_maximum_is_granted_as_asked()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Exchange ip = await EnrollAsync("validity-30", key, Validity(TimeSpan.FromDays(20)));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.InRange(NotAfter(ip), DateTimeOffset.UtcNow.AddDays(20).AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(20).AddMinutes(1));
    }

    [Fact]
    public async Task A_validity_beyond_the_profiles_maximum_is_shortened_and_granted_with_mods()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Exchange ip = await EnrollAsync("validity-30", key, Validity(TimeSpan.FromDays(90)));

        Assert.Equal(PkiBodyType.Ip, ip.View.BodyType);
        Assert.Equal((int)PkiStatus.GrantedWithMods, Status(ip));
        Assert.InRange(NotAfter(ip), DateTimeOffset.UtcNow.AddDays(30).AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30).AddMinutes(1));
    }

    [Fact]
    public async Task Where_the_profile_decides_validity_a_requested_one_is_granted_with_mods_and_the_profiles_applies()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Exchange ip = await EnrollAsync("default", key, Validity(TimeSpan.FromDays(20)));

        Assert.Equal((int)PkiStatus.GrantedWithMods, Status(ip));
        Assert.InRange(NotAfter(ip), DateTimeOffset.UtcNow.AddDays(365).AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(365).AddMinutes(1));
    }

    [Fact]
    public async Task A_requested_extension_the_profile_decides_is_granted_with_mods_and_the_profiles_key_usage_applies()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var extensions = new X509ExtensionsGenerator();
        extensions.AddExtension(X509Extensions.KeyUsage, true, new KeyUsage(KeyUsage.KeyCertSign));

        Exchange ip = await EnrollAsync("default", key, new RequestOverrides { TemplateExtensions = extensions.Generate() });

        Assert.Equal((int)PkiStatus.GrantedWithMods, Status(ip));
        var usage = KeyUsage.GetInstance(X509CertificateStructure.GetInstance(ip.View.CertificateDer!).TbsCertificate.Extensions
            .GetExtension(X509Extensions.KeyUsage).GetParsedValue());
        Assert.Equal(KeyUsage.DigitalSignature | KeyUsage.KeyAgreement, usage.IntValue);
    }

    [Fact]
    public async Task Where_the_profile_allows_it_the_requested_key_usage_and_extended_key_usage_are_granted_as_asked()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var extensions = new X509ExtensionsGenerator();
        extensions.AddExtension(X509Extensions.KeyUsage, true, new KeyUsage(KeyUsage.DigitalSignature));
        extensions.AddExtension(X509Extensions.ExtendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeID.id_kp_codeSigning));

        Exchange ip = await EnrollAsync("usage-override", key, new RequestOverrides { TemplateExtensions = extensions.Generate() });

        byte[] der = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        X509Extensions issued = X509CertificateStructure.GetInstance(der).TbsCertificate.Extensions;
        Assert.Equal(KeyUsage.DigitalSignature, KeyUsage.GetInstance(issued.GetExtension(X509Extensions.KeyUsage).GetParsedValue()).IntValue);
        Assert.Equal([KeyPurposeID.id_kp_codeSigning.Id],
            ExtendedKeyUsage.GetInstance(issued.GetExtension(X509Extensions.ExtendedKeyUsage).GetParsedValue()).GetAllUsages().Select(u => u.Id));
    }

    [Fact]
    public async Task A_requested_key_usage_with_ca_bits_is_badCertTemplate_even_where_overrides_are_allowed()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var extensions = new X509ExtensionsGenerator();
        extensions.AddExtension(X509Extensions.KeyUsage, true, new KeyUsage(KeyUsage.DigitalSignature | KeyUsage.KeyCertSign));

        Exchange error = await EnrollAsync("usage-override", key, new RequestOverrides { TemplateExtensions = extensions.Generate() });

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadCertTemplate);
    }

    private static RequestOverrides Names(params GeneralName[] names)
    {
        var extensions = new X509ExtensionsGenerator();
        extensions.AddExtension(X509Extensions.SubjectAlternativeName, false, new GeneralNames(names));
        return new RequestOverrides { TemplateExtensions = extensions.Generate() };
    }

    private static GeneralName[] IssuedNames(Exchange exchange) => GeneralNames.GetInstance(X509CertificateStructure.GetInstance(exchange.View.CertificateDer!)
        .TbsCertificate.Extensions.GetExtension(X509Extensions.SubjectAlternativeName).GetParsedValue()).GetNames();

    [Fact]
    public async Task Names_of_a_type_the_profile_does_not_take_are_dropped_with_mods_and_the_others_kept()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var dns = new GeneralName(GeneralName.DnsName, "gnb-1.example");

        Exchange ip = await EnrollAsync("san-dns", key, Names(dns, new GeneralName(GeneralName.IPAddress, "192.0.2.1"),
            new GeneralName(GeneralName.Rfc822Name, "ops@example.com")));

        Assert.Equal((int)PkiStatus.GrantedWithMods, Status(ip));
        Assert.Equal([dns], IssuedNames(ip));
    }

    [Fact]
    public async Task Names_of_the_allowed_types_are_granted_as_asked_on_a_strict_profile()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        GeneralName[] names = [new GeneralName(GeneralName.DnsName, "gnb-2.example"), new GeneralName(GeneralName.IPAddress, "2001:db8::1")];

        Exchange ip = await EnrollAsync("strict", key, Names(names));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.Equal(names, IssuedNames(ip));
    }

    [Fact]
    public async Task A_strict_profile_refuses_a_name_type_it_does_not_take_and_issues_nothing()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CmpClientSession session = Session("strict");

        Exchange error = await cluster.SendAsync(Aliases.KeyIdProfile, session, session.BuildEnrollment(true, new X509Name($"CN=profile-{Guid.NewGuid():N}"), key,
            overrides: Names(new GeneralName(GeneralName.DnsName, "gnb-3.example"), new GeneralName(GeneralName.UniformResourceIdentifier, "urn:gnb:3"))));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadCertTemplate);
        Assert.Contains("uri", error.View.Status!.StatusString?[0].GetString() ?? "");
        Assert.Empty((await cluster.SnapshotAsync(Aliases.KeyIdProfile, session)).CertificateKeys);
    }

    [Theory]
    [InlineData("2.5.29.15")]           // keyUsage: the profile decides it (no override)
    [InlineData("1.3.6.1.4.1.99999.1")] // an extension nobody takes from a request
    public async Task A_strict_profile_refuses_an_extension_it_does_not_take(string oid)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var extensions = new X509ExtensionsGenerator();
        extensions.AddExtension(new DerObjectIdentifier(oid), false,
            oid == "2.5.29.15" ? new KeyUsage(KeyUsage.DigitalSignature) : new DerUtf8String("asked for"));

        Exchange error = await EnrollAsync("strict", key, new RequestOverrides { TemplateExtensions = extensions.Generate() });

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadCertTemplate);
        Assert.Contains(oid, error.View.Status!.StatusString?[0].GetString() ?? "");
    }

    [Fact]
    public async Task A_plain_request_is_granted_without_mods()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.Equal((int)PkiStatus.Granted, Status(await EnrollAsync("default", key)));
    }

    [Fact]
    public async Task The_certReqTemplate_of_genm_lists_the_profiles_key_types()
    {
        CmpClientSession session = Session("ec-p384");

        Exchange genp = await cluster.SendAsync(Aliases.KeyIdProfile, session,
            session.BuildGeneralMessage(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_certReqTemplate)));

        var content = CertReqTemplateContent.GetInstance(Assert.Single(genp.View.GeneralInfo).InfoValue);
        AttributeTypeAndValue[] keySpec = content.KeySpecControls.ToAttributeTypeAndValueArray();
        var only = Assert.Single(keySpec);
        Assert.Equal(X9ObjectIdentifiers.IdECPublicKey, AlgorithmIdentifier.GetInstance(only.Value).Algorithm);
        Assert.Equal(Org.BouncyCastle.Asn1.Sec.SecObjectIdentifiers.SecP384r1, AlgorithmIdentifier.GetInstance(only.Value).Parameters);
    }
}
