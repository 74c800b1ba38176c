using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using CmpCluster.Contracts;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Validation;

namespace CmpCluster.Grains.Admin;

/// <summary>
/// The admin rules for an end-entity registration, applied in the admin grain before any other grain call, and turns it into the grain's record. Every problem is
/// keyed by the JSON field it concerns (<c>subjectAltNames[2]</c> for one list entry), as ValidationProblem reports it.
/// </summary>
public static partial class AdminValidation
{
    public const int MaxBulkItems = 10_000;
    public const int MaxSubjectAltNames = 100;
    public const int MaxSubjectDnLength = 1024;
    public const string DefaultCa = "issuing";
    public const string DefaultProfile = "default";

    [GeneratedRegex("^[A-Za-z0-9._@-]{1,128}$", RegexOptions.CultureInvariant)]
    private static partial Regex UsernamePattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    // RFC 1034 §3.5 preferred syntax (letters, digits, hyphens; labels 1-63), an optional leading wildcard label.
    [GeneratedRegex(@"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex HostnamePattern();

    // RFC 5280 §4.2.1.6 rfc822Name: a Mailbox (RFC 5321 §4.1.2) — a dot-atom local part at a domain.
    [GeneratedRegex(@"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[^@]+$", RegexOptions.CultureInvariant)]
    private static partial Regex MailboxPattern();

    [GeneratedRegex(@"^\d{1,3}(\.\d{1,3}){3}$", RegexOptions.CultureInvariant)]
    private static partial Regex DottedQuadPattern();

    public static bool IsValidUsername(string? username) => username is not null && UsernamePattern().IsMatch(username);

    /// <summary>
    /// Validates the fields of a registration; <paramref name="username"/> is checked when not null. Adds problems to
    /// <paramref name="errors"/> (field → message) and returns the registration when there were none.
    /// </summary>
    public static EndEntityRegistration? Validate(
        string? username, bool requireUsername, string? subjectDn, string[]? subjectAltNames, string? ca,
        string? certificateProfile, string? endEntityProfile, string? enrollmentCode, bool requireCode,
        AdminCatalog catalog, Dictionary<string, string> errors)
    {
        if (requireUsername && !IsValidUsername(username))
        {
            errors["username"] = "must be 1-128 characters of A-Z a-z 0-9 . _ @ -";
        }
        string? dn = subjectDn?.Trim();
        if (dn is null || dn.Length == 0)
        {
            errors["subjectDn"] = "is required";
        }
        else if (dn.Length > MaxSubjectDnLength || !IsX500Name(dn))
        {
            errors["subjectDn"] = $"must be a non-empty X.500 distinguished name of at most {MaxSubjectDnLength} characters, e.g. CN=device-1,O=Example";
        }
        string[] sans = subjectAltNames ?? [];
        if (sans.Length > MaxSubjectAltNames)
        {
            errors["subjectAltNames"] = $"at most {MaxSubjectAltNames} entries";
        }
        else
        {
            for (int i = 0; i < sans.Length; i++)
            {
                if (SubjectAltNameProblem(sans[i]) is { } problem)
                {
                    errors[$"subjectAltNames[{i}]"] = problem;
                }
            }
        }
        ca ??= catalog.DefaultCa;
        certificateProfile ??= DefaultProfile;
        endEntityProfile ??= DefaultProfile;
        if (!NamePattern().IsMatch(ca) || !catalog.IsKnownCa(ca))
        {
            errors["ca"] = "must name a CA of this cluster (GET /api/v1/cas)";
        }
        if (!NamePattern().IsMatch(certificateProfile) || !catalog.IsKnownCertificateProfile(certificateProfile))
        {
            errors["certificateProfile"] = "must name a configured certificate profile";
        }
        if (!NamePattern().IsMatch(endEntityProfile))
        {
            errors["endEntityProfile"] = "must be 1-64 characters of A-Z a-z 0-9 . _ -";
        }
        else if (catalog.EndEntityProfile(endEntityProfile) is { } rules)
        {
            // The end-entity profile's rules hold for registrations as for RA-created end entities: its DN field rules
            // (a fixed or default value is filled in and stored), its certificate profiles and CAs.
            if (!errors.ContainsKey("subjectDn"))
            {
                try
                {
                    dn = EndEntityProfileRules.Apply(new Org.BouncyCastle.Asn1.X509.X509Name(dn), rules, endEntityProfile).Subject.ToString();
                }
                catch (CmpFailureException e)
                {
                    errors["subjectDn"] = e.Failure.ClientText;
                }
                catch (ArgumentException)
                {
                    errors["subjectDn"] = "is not a distinguished name the end-entity profile's rules can read";
                }
            }
            if (rules.AllowedCertificateProfiles is { } profiles && !profiles.Contains(certificateProfile))
            {
                errors["certificateProfile"] = $"is not allowed by end-entity profile '{endEntityProfile}' ({string.Join(", ", profiles)})";
            }
            if (rules.AllowedCas is { } cas && !cas.Contains(ca))
            {
                errors["ca"] = $"is not allowed by end-entity profile '{endEntityProfile}' ({string.Join(", ", cas)})";
            }
        }
        else if (endEntityProfile != DefaultProfile)
        {
            errors["endEntityProfile"] = "must name a configured end-entity profile (Cmp:EndEntityProfiles) or default";
        }
        if (enrollmentCode is null ? requireCode : !IsValidCode(enrollmentCode))
        {
            errors["enrollmentCode"] = "must be 8-256 characters";
        }
        return errors.Count > 0 ? null
            : new EndEntityRegistration(dn!, sans.Select(Canonical).ToArray(), ca, certificateProfile, endEntityProfile, enrollmentCode);
    }

    public static bool IsValidCode(string? code) => code is { Length: >= 8 and <= 256 };

    /// <summary>Certificate serials as <see cref="GrainKeys.Certificate"/> wants them: upper-case hex, no leading zeros.</summary>
    public static string? NormalizeSerial(string serialHex)
    {
        if (serialHex.Length is 0 or > 64 || !serialHex.All(char.IsAsciiHexDigit))
        {
            return null;
        }
        string trimmed = serialHex.TrimStart('0').ToUpperInvariant();
        return trimmed.Length == 0 ? "0" : trimmed;
    }

    private static bool IsX500Name(string dn)
    {
        try
        {
            var name = new X500DistinguishedName(dn);
            return name.EnumerateRelativeDistinguishedNames().Any();
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>RFC 5280 §4.2.1.6 GeneralName forms this API accepts: dNSName, iPAddress, rfc822Name, uniformResourceIdentifier.</summary>
    private static string? SubjectAltNameProblem(string? entry)
    {
        int colon = entry?.IndexOf(':') ?? -1;
        if (entry is null || colon <= 0)
        {
            return "must be dns:NAME, ip:ADDRESS, email:MAILBOX or uri:URI";
        }
        string value = entry[(colon + 1)..];
        return entry[..colon].ToLowerInvariant() switch
        {
            "dns" => value.Length <= 253 && HostnamePattern().IsMatch(value) ? null : "dns: needs a host name such as host.example",
            "ip" => IsIpAddress(value) ? null : "ip: needs an IPv4 or IPv6 address",
            "email" => value.Length <= 320 && MailboxPattern().IsMatch(value) && HostnamePattern().IsMatch(value[(value.LastIndexOf('@') + 1)..])
                ? null : "email: needs a mailbox such as user@host.example",
            "uri" => value.Length <= 2048 && Uri.TryCreate(value, UriKind.Absolute, out _) && !value.Any(char.IsWhiteSpace)
                ? null : "uri: needs an absolute URI such as urn:example:1",
            _ => "the prefix must be dns, ip, email or uri",
        };
    }

    private static bool IsIpAddress(string value) =>
        IPAddress.TryParse(value, out IPAddress? address)
        && (address.AddressFamily == AddressFamily.InterNetworkV6 ? !value.Contains('%') : DottedQuadPattern().IsMatch(value));

    /// <summary>Lower-case prefix, value as given (IP addresses in canonical text).</summary>
    private static string Canonical(string entry)
    {
        int colon = entry.IndexOf(':');
        string prefix = entry[..colon].ToLowerInvariant();
        string value = entry[(colon + 1)..];
        return prefix == "ip" ? $"ip:{IPAddress.Parse(value).ToString()}" : string.Create(CultureInfo.InvariantCulture, $"{prefix}:{value}");
    }
}

/// <summary>What a registration may name: the CAs of the silo's key ring and the configured certificate profiles.</summary>
public sealed class AdminCatalog(
    IEnumerable<string> cas, IReadOnlyDictionary<string, CmpCluster.Protocol.Configuration.CertificateProfileOptions> profiles,
    IReadOnlyDictionary<string, CmpCluster.Protocol.Configuration.EndEntityProfileOptions>? endEntityProfiles = null,
    string defaultCa = AdminValidation.DefaultCa)
{
    /// <summary>The CA of a registration that names none: the node's default CA (Pki:CaName).</summary>
    public string DefaultCa => defaultCa;

    /// <summary>The configured end-entity profile of this name; null for none (and for "default" unless configured).</summary>
    public CmpCluster.Protocol.Configuration.EndEntityProfileOptions? EndEntityProfile(string name) => endEntityProfiles?.GetValueOrDefault(name);

    private readonly HashSet<string> _cas = new(cas, StringComparer.Ordinal);

    public bool IsKnownCa(string name) => _cas.Contains(name);

    public bool IsKnownCertificateProfile(string name) => profiles.ContainsKey(name);
}
