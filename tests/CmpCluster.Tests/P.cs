namespace CmpCluster.Tests; public class PTest { [Xunit.Fact] public void T() {} }
