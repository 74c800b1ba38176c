using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Validation;

/// <summary>
/// The subject DN rules of an end-entity profile (<see cref="EndEntityProfileOptions"/>), applied to what an RA requests:
/// a field the profile does not list, or a required one missing, is badCertTemplate; a fixed field takes the profile's
/// value, a default one is added when absent. Changed: the certificate is answered grantedWithMods (RFC 9810 §5.2.3).
/// </summary>
public static class EndEntityProfileRules
{
    public static (X509Name Subject, bool Modified) Apply(X509Name requested, EndEntityProfileOptions? profile, string profileName)
    {
        if (profile is null || profile.Fields.Count == 0)
        {
            return (requested, false);
        }
        var rules = new Dictionary<DerObjectIdentifier, (string Name, DnFieldRule Rule)>();
        foreach ((string name, DnFieldRule rule) in profile.Fields)
        {
            rules[Oid(name) ?? throw new CmpFailureException(PkiFailureInfo.SystemFailure, $"end-entity profile '{profileName}' names an unknown DN field")] = (name, rule);
        }
        IList<DerObjectIdentifier> oids = requested.GetOidList();
        IList<string> values = requested.GetValueList();
        var resultOids = new List<DerObjectIdentifier>();
        var resultValues = new List<string>();
        bool modified = false;
        for (int i = 0; i < oids.Count; i++)
        {
            if (!rules.TryGetValue(oids[i], out var field))
            {
                throw new CmpFailureException(PkiFailureInfo.BadCertTemplate,
                    $"the subject field {Name(oids[i])} is not allowed by end-entity profile '{profileName}'");
            }
            string value = values[i];
            if (field.Rule.Use == DnFieldUse.Fixed && field.Rule.Value is { } fixedValue && !string.Equals(value, fixedValue, StringComparison.Ordinal))
            {
                (value, modified) = (fixedValue, true);
            }
            resultOids.Add(oids[i]);
            resultValues.Add(value);
        }
        foreach ((DerObjectIdentifier oid, (string name, DnFieldRule rule)) in rules)
        {
            if (resultOids.Contains(oid))
            {
                continue;
            }
            switch (rule.Use)
            {
                case DnFieldUse.Required:
                    throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, $"the subject field {name} is required by end-entity profile '{profileName}'");
                case DnFieldUse.Fixed or DnFieldUse.Default when rule.Value is { } value:
                    resultOids.Add(oid);
                    resultValues.Add(value);
                    modified = true;
                    break;
            }
        }
        return modified ? (new X509Name(resultOids, resultValues), true) : (requested, false);
    }

    /// <summary>The OID of a DN attribute name (X.520 and RFC 4519 names, case ignored), or null.</summary>
    public static DerObjectIdentifier? Oid(string name) =>
        X509Name.DefaultLookup.TryGetValue(name.ToLowerInvariant(), out DerObjectIdentifier? oid) ? oid : null;

    private static string Name(DerObjectIdentifier oid) =>
        X509Name.DefaultSymbols.TryGetValue(oid, out string? name) ? name : oid.Id;
}
