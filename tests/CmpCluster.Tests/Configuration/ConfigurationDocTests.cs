using CmpCluster.Tests.Repository;
using Xunit;

namespace CmpCluster.Tests.Configuration;

/// <summary>
/// docs/CONFIGURATION.md is generated from the options types (ConfigurationReference) and must match them: a new
/// setting, a changed default, range or summary fails this test until the file is rewritten. With the environment variable
/// UPDATE_CONFIG_DOC=1 the test writes the file instead of comparing.
/// </summary>
public sealed class ConfigurationDocTests
{
    private const string DocPath = "docs/CONFIGURATION.md";

    [Fact]
    public void The_configuration_reference_matches_the_options_types()
    {
        string generated = ConfigurationReference.Generate();
        string file = Path.Combine(RepositoryFiles.Instance.Root, DocPath);
        if (Environment.GetEnvironmentVariable("UPDATE_CONFIG_DOC") == "1")
        {
            File.WriteAllText(file, generated);
            return;
        }
        string current = File.Exists(file) ? File.ReadAllText(file).ReplaceLineEndings("\n") : "";

        Assert.True(current == generated,
            $"{DocPath} differs from the options types (first difference at line {FirstDifferentLine(current, generated)}); rewrite it with:\n  {ConfigurationReference.UpdateCommand}");
    }

    [Fact]
    public void Every_key_has_a_description()
    {
        string[] undocumented = ConfigurationReference.Generate().Split('\n')
            .Where(line => line.StartsWith("| `", StringComparison.Ordinal) && line.EndsWith("|  |", StringComparison.Ordinal))
            .ToArray();

        Assert.True(undocumented.Length == 0, "settings without an XML summary:\n" + string.Join('\n', undocumented));
    }

    private static int FirstDifferentLine(string a, string b)
    {
        string[] left = a.Split('\n'), right = b.Split('\n');
        int i = 0;
        while (i < left.Length && i < right.Length && left[i] == right[i])
        {
            i++;
        }
        return i + 1;
    }
}
