using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.Certificates;
using CmpCluster.Grains.Handlers;
using CmpCluster.Grains.Pki;
using CmpCluster.Grains.Transactions;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using System.Reflection;

namespace CmpCluster.Grains;

public static class CmpGrainsServices
{
    /// <summary>Registers the engine's services and validated options; the host adds storage, reminders and the key ring.</summary>
    public static IServiceCollection AddCmpGrains(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System); // tests put a fake clock in first
        // The trust boundary: silo-internal grain interfaces refuse callers that are not grains (Orleans takes every
        // registered IIncomingGrainCallFilter).
        services.AddSingleton<Internal.SiloCallToken>();
        services.AddSingleton<IIncomingGrainCallFilter, Internal.InternalCallFilter>();
        services.AddSingleton<IOutgoingGrainCallFilter, Internal.SiloCallMarker>();
        services.AddSingleton<ResponseProtectors>();
        services.AddSingleton<AliasCertificates>();
        services.AddSingleton<Policy.EnrollmentPolicies>();
        services.AddSingleton<DeadlineSweeperKickoff>();
        services.AddSingleton<RequestAuthenticator>();
        services.AddSingleton<VendorCertificates>();
        services.AddSingleton<EndEntities.SecretSealer>();
        // The DN index as grains; the node replaces it with its store's own (silo/SiloProviders.cs).
        services.AddSingleton<EndEntities.GrainSubjectIndex>();
        services.TryAddSingleton<EndEntities.ISubjectIndex>(sp => sp.GetRequiredService<EndEntities.GrainSubjectIndex>());
        services.AddSingleton<DerivedSerials>();
        services.AddSingleton<CertificateIssuer>();
        services.AddSingleton<EnrollmentHandler>();
        services.AddSingleton<CertConfHandler>();
        services.AddSingleton<RevocationHandler>();
        services.AddSingleton<GenmHandler>();
        services.AddSingleton<RootCaUpdates>();
        services.AddSingleton<IValidateOptions<CmpOptions>, CmpOptionsValidator>();
        services.AddSingleton<IValidateOptions<PkiOptions>, PkiOptionsValidator>();
        services.AddSingleton<Revocation.OcspIssuerIndex>();
        services.AddSingleton<CaExpiryMonitor>();
        services.AddSingleton<CaStatusCache>();
        services.AddHostedService<KeyGenerationAuthorityCheck>();
        services.AddHostedService(sp => sp.GetRequiredService<CaExpiryMonitor>());
        services.AddHostedService<RecordedCaRefresh>();
        return services;
    }
}

/// <summary>
/// Start-up validation of the Cmp section: a bad configuration stops the process naming the key. The ranges are the
/// options' [Range] attributes (<see cref="OptionAnnotations"/>); this adds the checks that span settings. An alias may
/// name a CA made through the admin API that the data directory holds (<paramref name="recorded"/>, grains/Pki/RecordedCas.cs).
/// </summary>
public sealed class CmpOptionsValidator(IOptions<PkiOptions> pki, RecordedCaDirectory? recorded = null) : IValidateOptions<CmpOptions>
{
    public ValidateOptionsResult Validate(string? name, CmpOptions options)
    {
        var errors = new List<string>();
        // Cmp:Limits, every alias's MacProtection and every profile, each against its [Range] attributes.
        OptionAnnotations.Validate(options, CmpOptions.Section, errors);
        CmpLimits limits = options.Limits;
        if (limits.MinPbmIterations > limits.MaxPbmIterations) errors.Add("Cmp:Limits:MinPbmIterations must not exceed Cmp:Limits:MaxPbmIterations");
        MacNamesProblems("Cmp:Limits", limits.AllowedPbmOneWayFunctions, limits.AllowedPbmMacAlgorithms, errors);
        if (limits.MessageTimeWindow <= TimeSpan.Zero) errors.Add("Cmp:Limits:MessageTimeWindow must be positive");
        if (options.ConfirmCheckPeriod < TimeSpan.FromSeconds(1)) errors.Add("Cmp:ConfirmCheckPeriod must be at least 1 second");
        if (options.MaxWaitTime <= TimeSpan.Zero) errors.Add("Cmp:MaxWaitTime must be positive");
        if (options.TransactionRetention is { } retention)
        {
            // A replay is refused by the messageTime window only once the window has passed: keeping less would let one through.
            TimeSpan widest = options.Aliases.Values.Where(a => a.MessageTimeRequired)
                .Select(a => a.MessageTimeWindow ?? limits.MessageTimeWindow).DefaultIfEmpty(TimeSpan.Zero).Max();
            if (retention < 2 * widest) errors.Add($"Cmp:TransactionRetention must be at least twice the widest messageTime window of an alias that requires messageTime ({2 * widest})");
        }
        if (options.Aliases.Count == 0) errors.Add("Cmp:Aliases must define at least one alias");
        foreach ((string alias, CmpAliasOptions settings) in options.Aliases)
        {
            string key = $"Cmp:Aliases:{alias}";
            if (!System.Text.RegularExpressions.Regex.IsMatch(alias, "^[A-Za-z0-9_-]{1,64}$")) errors.Add($"{key}: alias names are 1-64 letters, digits, '-' or '_'");
            CaDefinition? ca = pki.Value.Definition(settings.Ca);
            bool recordedCa = ca is null && settings.Ca != CmpAliasOptions.KeyId && recorded?.Holds(settings.Ca) == true;
            if (ca is null && settings.Ca != CmpAliasOptions.KeyId && !recordedCa)
            {
                errors.Add($"{key}:Ca '{settings.Ca}' is not a CA of this node (Pki:CaName and Pki:Cas name them: {string.Join(", ", pki.Value.Definitions().Select(d => d.Name))})");
            }
            if (ca is not null && settings.CertificateProfile != CmpAliasOptions.KeyId && !ca.Allows(settings.CertificateProfile))
            {
                errors.Add($"{key}:CertificateProfile '{settings.CertificateProfile}' is not allowed by CA '{ca.Name}' ({ca.Setting}:AllowedCertificateProfiles)");
            }
            if (!options.Profiles.ContainsKey(settings.CertificateProfile) && settings.CertificateProfile != CmpAliasOptions.KeyId) errors.Add($"{key}:CertificateProfile '{settings.CertificateProfile}' is not defined under Cmp:Profiles");
            if (settings.Modules.Count == 0) errors.Add($"{key}:AuthenticationModules must name at least one module");
            foreach (string module in settings.Modules.Where(m => !AuthenticationModules.IsKnown(m, settings.Mode)))
            {
                errors.Add($"{key}:AuthenticationModules: '{module}' is not available in {settings.Mode} mode (RA: HMAC; Client: HMAC, RegTokenPwd, DnPartPwd)");
            }
            if (settings.Mode == AliasMode.Ra && settings.Modules.Contains(AuthenticationModules.Hmac)
                && string.IsNullOrEmpty(settings.Secret) && !(recordedCa ? !string.IsNullOrEmpty(pki.Value.CmpRaSecret) // the node's, as for every recorded CA
                    : ca is null
                    ? pki.Value.Definitions().Any(d => !string.IsNullOrEmpty(d.CmpRaSecret)) // KeyID: the senderKID's CA's secret
                    : !string.IsNullOrEmpty(ca.CmpRaSecret)))
            {
                errors.Add($"{key}:Secret is required by the HMAC module in RA mode (or the CA's Pki:CmpRaSecret, Pki:Cas:{{name}}:CmpRaSecret)");
            }
            if (settings.ConfirmWaitTime <= TimeSpan.Zero) errors.Add($"{key}:ConfirmWaitTime must be positive");
            if (settings.MessageTimeWindow is { } window && window <= TimeSpan.Zero) errors.Add($"{key}:MessageTimeWindow must be positive");
            if (settings.MacProtection is { } mac)
            {
                CmpLimits merged = limits.For(settings);
                if (merged.MinPbmIterations > merged.MaxPbmIterations) errors.Add($"{key}:MacProtection:MinIterations must not exceed the alias's MaxIterations ({merged.MaxPbmIterations})");
                MacNamesProblems($"{key}:MacProtection", mac.AllowedOneWayFunctions, mac.AllowedMacAlgorithms, errors, "AllowedOneWayFunctions", "AllowedMacAlgorithms");
            }
            if (settings.VendorCertificateMode)
            {
                if (settings.Mode != AliasMode.Client || !settings.Modules.Contains(AuthenticationModules.EndEntityCertificate))
                {
                    errors.Add($"{key}:VendorCertificateMode needs Mode Client and the EndEntityCertificate module");
                }
                if (settings.VendorCas is not { Length: > 0 })
                {
                    errors.Add($"{key}:VendorCas must list at least one vendor CA certificate file");
                }
            }
            foreach (string file in (settings.VendorCas ?? []).Concat(settings.VendorCrls ?? []).Concat(settings.NestedRaTrustAnchors ?? []).Where(f => !File.Exists(f)))
            {
                errors.Add($"{key}: trust file '{file}' does not exist");
            }
            if (options.EndEntityProfiles.GetValueOrDefault(settings.EndEntityProfile) is { AllowedCertificateProfiles: { } allowed }
                && settings.CertificateProfile != CmpAliasOptions.KeyId && !allowed.Contains(settings.CertificateProfile))
            {
                errors.Add($"{key}:CertificateProfile '{settings.CertificateProfile}' is not allowed by end-entity profile '{settings.EndEntityProfile}'");
            }
            if (options.EndEntityProfiles.GetValueOrDefault(settings.EndEntityProfile) is { AllowedCas: { } allowedCas }
                && settings.Ca != CmpAliasOptions.KeyId && !allowedCas.Contains(settings.Ca))
            {
                errors.Add($"{key}:Ca '{settings.Ca}' is not allowed by end-entity profile '{settings.EndEntityProfile}'");
            }
            foreach (string policy in (settings.EnrollmentPolicies ?? []).Where(p => !options.Policies.ContainsKey(p)))
            {
                errors.Add($"{key}:EnrollmentPolicies: '{policy}' is not defined under Cmp:Policies");
            }
            foreach ((string setting, string file) in (settings.AdditionalCaPubs ?? []).Select(f => ("AdditionalCaPubs", f))
                .Concat((settings.AdditionalExtraCerts ?? []).Select(f => ("AdditionalExtraCerts", f))))
            {
                try
                {
                    AliasCertificates.Load(file);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    errors.Add($"{key}:{setting}: {(e is InvalidDataException ? e.Message : $"'{file}' cannot be read")}");
                }
            }
        }
        foreach ((string policyName, EnrollmentPolicyOptions settings) in options.Policies)
        {
            try
            {
                Policy.EnrollmentPolicies.Create(policyName, settings);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or BadImageFormatException or TargetInvocationException or MissingMethodException)
            {
                errors.Add(e is InvalidOperationException ? e.Message : $"Cmp:Policies:{policyName}: the plug-in cannot be loaded ({e.GetType().Name})");
            }
        }
        if (options.PolicyTimeout <= TimeSpan.Zero) errors.Add("Cmp:PolicyTimeout must be positive");
        foreach ((string profile, EndEntityProfileOptions settings) in options.EndEntityProfiles)
        {
            foreach ((string field, DnFieldRule rule) in settings.Fields)
            {
                if (Protocol.Validation.EndEntityProfileRules.Oid(field) is null) errors.Add($"Cmp:EndEntityProfiles:{profile}:Fields:{field} is not a DN attribute name (CN, O, OU, C, L, ST, SERIALNUMBER, UID, DC, E)");
                if (rule.Use is DnFieldUse.Fixed or DnFieldUse.Default && string.IsNullOrEmpty(rule.Value)) errors.Add($"Cmp:EndEntityProfiles:{profile}:Fields:{field}:Value is required for {rule.Use}");
            }
        }
        foreach ((string profile, CertificateProfileOptions settings) in options.Profiles)
        {
            if (ProfileExtensions.FindUnknownName(settings.KeyUsages, settings.ExtendedKeyUsages) is { } unknown)
            {
                errors.Add($"Cmp:Profiles:{profile}: unknown key usage or extended key usage '{unknown}'");
            }
            string key = $"Cmp:Profiles:{profile}";
            // Case as the issuance check reads them (protocol/Validation/PublicKeyRules.cs): ignored.
            if (settings.KeyAlgorithms.Count == 0
                || settings.KeyAlgorithms.Any(a => !a.Equals("EC", StringComparison.OrdinalIgnoreCase) && !a.Equals("RSA", StringComparison.OrdinalIgnoreCase)))
            {
                errors.Add($"{key}:AllowedKeyAlgorithms must list EC, RSA or both");
            }
            if (settings.Curves.Count == 0 || settings.Curves.Any(c => !Protocol.Validation.PublicKeyRules.NamedCurves.ContainsKey(c)))
            {
                errors.Add($"{key}:AllowedCurves must list one or more of P-256, P-384, P-521");
            }
            if (settings.AllowedSubjectAltNameTypes?.FirstOrDefault(t => !SubjectAltNameTypeNames.All.Contains(t, StringComparer.OrdinalIgnoreCase)) is { } type)
            {
                errors.Add($"{key}:AllowedSubjectAltNameTypes: '{type}' is not one of {string.Join(", ", SubjectAltNameTypeNames.All)}");
            }
            if (settings.MinRsaBits > settings.MaxRsaBits)
            {
                errors.Add($"{key}:MinRsaBits must not exceed MaxRsaBits ({settings.MaxRsaBits})");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>RFC 9481 §2 and §6.1.1 names this CA implements; an empty list would refuse every MAC.</summary>
    private static void MacNamesProblems(string prefix, string[]? owfs, string[]? macs, List<string> errors,
        string owfKey = "AllowedPbmOneWayFunctions", string macKey = "AllowedPbmMacAlgorithms")
    {
        string[] knownOwf = ["SHA1", "SHA256", "SHA384", "SHA512"];
        string[] knownMac = ["HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA384", "HMAC-SHA512"];
        if (owfs is not null && (owfs.Length == 0 || owfs.Any(o => !knownOwf.Contains(o, StringComparer.OrdinalIgnoreCase))))
        {
            errors.Add($"{prefix}:{owfKey} must list one or more of {string.Join(", ", knownOwf)}");
        }
        if (macs is not null && (macs.Length == 0 || macs.Any(m => !knownMac.Contains(m, StringComparer.OrdinalIgnoreCase))))
        {
            errors.Add($"{prefix}:{macKey} must list one or more of {string.Join(", ", knownMac)}");
        }
    }
}
