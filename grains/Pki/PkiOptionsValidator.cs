using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Options;

namespace CmpCluster.Grains.Pki;

/// <summary>Start-up validation of the Pki section: its data annotations (<see cref="OptionAnnotations"/>) and the checks that
/// span settings; each failure names its key.</summary>
public sealed class PkiOptionsValidator : IValidateOptions<PkiOptions>
{
    public ValidateOptionsResult Validate(string? name, PkiOptions options)
    {
        var errors = new List<string>();
        OptionAnnotations.Validate(options, PkiOptions.Section, errors);
        if (!Uri.TryCreate(options.PublicBaseUrl, UriKind.Absolute, out Uri? url)
            || url.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(url.Query) || !string.IsNullOrEmpty(url.Fragment))
        {
            errors.Add("Pki:PublicBaseUrl must be an absolute http or https URL without query or fragment, e.g. http://ca.example:8080");
        }
        foreach ((string key, CrlOptions crl) in options.Cas.Where(c => c.Value.Crl is not null).Select(c => ($"Pki:Cas:{c.Key}:Crl", c.Value.Crl!))
            .Prepend(("Pki:Crl", options.Crl)))
        {
            if (crl.RenewBefore <= TimeSpan.Zero || crl.RenewBefore >= crl.Validity) errors.Add($"{key}:RenewBefore must be positive and shorter than {key}:Validity");
            if (crl.CheckPeriod < TimeSpan.FromSeconds(1)) errors.Add($"{key}:CheckPeriod must be at least 1 second");
        }
        // Aliases, KeyID senderKIDs, CRL URLs and grain keys name a CA; configuration keys are case-insensitive, so names
        // that differ only in case would be one CA to some of them and two to others.
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { [options.CaName] = $"{PkiOptions.Section}:CaName" };
        foreach (string caName in options.Cas.Keys)
        {
            string key = $"{PkiOptions.Section}:Cas:{caName}";
            if (!System.Text.RegularExpressions.Regex.IsMatch(caName, "^[A-Za-z0-9_-]{1,64}$"))
            {
                errors.Add($"{key}: CA names are 1-64 letters, digits, '-' or '_'");
            }
            else if (!names.TryAdd(caName, key))
            {
                errors.Add($"{key}: two CAs named '{caName}' (the other is {names[caName]}); every CA needs its own name");
            }
        }
        foreach (CaDefinition ca in options.Definitions())
        {
            RootCaUpdateProblems(ca.RootCaUpdate, $"{ca.Setting}:RootCaUpdate", errors);
            // The parent's root key must be in a development folder this node makes: not a token's, not a borrowed root.
            if (ca.IssuedBy is { } parent && (parent == ca.Name || options.Definition(parent) is not { IssuedBy: null }
                || options.CaKeys.ContainsKey(parent) || options.CaKeys.ContainsKey(ca.Name)))
            {
                errors.Add($"{ca.Setting}:IssuedBy '{parent}' must name another CA of this node that has its own root in a development PKI folder (not Pki:CaKeys, not IssuedBy itself), and this CA's keys must not be on a token");
            }
        }
        foreach ((string key, OcspOptions ocsp) in options.Cas.Where(c => c.Value.Ocsp is not null).Select(c => ($"Pki:Cas:{c.Key}:Ocsp", c.Value.Ocsp!))
            .Prepend(("Pki:Ocsp", options.Ocsp)))
        {
            if (!Enum.IsDefined(ocsp.Signer)) errors.Add($"{key}:Signer must be Delegated or Ca");
            if (ocsp.ResponseValidity is { } validity && validity <= TimeSpan.Zero) errors.Add($"{key}:ResponseValidity must be positive (or unset)");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>A configured root rollover is read at the first genm: a missing file is an operator's mistake to report at start.</summary>
    private static void RootCaUpdateProblems(RootCaUpdateOptions rollover, string key, List<string> errors)
    {
        if (string.IsNullOrEmpty(rollover.NewWithNew) && (!string.IsNullOrEmpty(rollover.NewWithOld) || !string.IsNullOrEmpty(rollover.OldWithNew)))
        {
            errors.Add($"{key}:NewWithNew is required when NewWithOld or OldWithNew is set");
        }
        foreach ((string name, string? file) in new[] { ("NewWithNew", rollover.NewWithNew), ("NewWithOld", rollover.NewWithOld), ("OldWithNew", rollover.OldWithNew) })
        {
            if (!string.IsNullOrEmpty(file) && !File.Exists(file)) errors.Add($"{key}:{name}: file '{file}' does not exist");
        }
    }
}
